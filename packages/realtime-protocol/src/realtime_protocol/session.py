"""The session object of `session.update` / `session.created` / `session.updated` (GA shape).

```
{"type": "realtime", "instructions": "...", "max_output_tokens": 200 | "inf",
 "tools": [{"type": "function", "name", "description", "parameters": {JSON schema}}], "tool_choice": "auto",
 "audio": {"input": {"format": {...}, "transcription": {"model", "language"} | null,
                     "turn_detection": {"type": "server_vad" | "semantic_vad", ...} | null},
           "output": {"format": {...}, "voice": "alloy"}}}
```

Every field is optional in an update: `UNSET` means "not sent, keep the current value"; `None` for
`turn_detection` / `transcription` means "off". Fields we do not use (noise reduction, tracing, ...)
are ignored on parse, as a forward-compatible server does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, Literal

from . import _fields as f
from ._fields import UNSET
from .formats import AudioFormat

_S = "invalid_session"
MAX_TOOLS = 32
MAX_SCHEMA_CHARS = 16_384


@dataclass(frozen=True, slots=True)
class TurnDetection:
    """Fields the client left out are None (the server's own defaults apply)."""

    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    create_response: bool = True
    interrupt_response: bool = True
    eagerness: Literal["low", "medium", "high", "auto"] | None = None  # semantic_vad only

    def to_wire(self) -> dict:
        wire: dict[str, Any] = {"type": self.type}
        for name in ("threshold", "prefix_padding_ms", "silence_duration_ms", "eagerness"):
            value = getattr(self, name)
            if value is not None:
                wire[name] = value
        wire["create_response"] = self.create_response
        wire["interrupt_response"] = self.interrupt_response
        return wire

    @classmethod
    def from_wire(cls, value: Any, param: str = "session.audio.input.turn_detection") -> TurnDetection | None:
        if value is None:
            return None
        td = f.obj(value, param, _S)
        kind = td.get("type", "server_vad")
        if kind not in ("server_vad", "semantic_vad"):
            raise f.fail(_S, f"turn_detection type {kind!r} is not supported (server_vad, semantic_vad)",
                         f"{param}.type")
        args: dict[str, Any] = {"type": kind}
        for name, lo, hi in (("silence_duration_ms", 100, 10000), ("prefix_padding_ms", 0, 5000)):
            if td.get(name) is not None:
                args[name] = f.integer(td[name], f"{param}.{name}", lo, hi, _S)
        if td.get("threshold") is not None:
            args["threshold"] = f.number(td["threshold"], f"{param}.threshold", 0.0, 1.0, _S)
        for name in ("create_response", "interrupt_response"):
            if name in td:
                args[name] = f.boolean(td[name], f"{param}.{name}", _S)
        if td.get("eagerness") is not None:
            if td["eagerness"] not in ("low", "medium", "high", "auto"):
                raise f.fail(_S, "eagerness must be low, medium, high or auto", f"{param}.eagerness")
            args["eagerness"] = td["eagerness"]
        return cls(**args)


@dataclass(frozen=True, slots=True)
class Transcription:
    """Input audio transcription (`audio.input.transcription`)."""

    model: str = "whisper-1"
    language: str | None = None

    def to_wire(self) -> dict:
        return {"model": self.model, **({"language": self.language} if self.language else {})}

    @classmethod
    def from_wire(cls, value: Any, param: str = "session.audio.input.transcription") -> Transcription | None:
        if value is None:
            return None
        t = f.obj(value, param, _S)
        model = f.text(t.get("model", "whisper-1"), f"{param}.model", _S, max_chars=128)
        return cls(model or "whisper-1", f.text(t.get("language"), f"{param}.language", _S, max_chars=16,
                                                 optional=True))


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call: `parameters` is a JSON schema (an object)."""

    name: str
    description: str
    parameters: dict

    def to_wire(self) -> dict:
        return {"type": "function", "name": self.name, "description": self.description,
                "parameters": self.parameters}

    @classmethod
    def from_wire(cls, value: Any, param: str) -> Tool:
        t = f.obj(value, param, _S)
        if t.get("type", "function") != "function":
            raise f.fail(_S, "tools must be of type function", f"{param}.type")
        name = f.text(t.get("name"), f"{param}.name", _S, max_chars=64)
        if not name or not all(c.isalnum() or c in "_-" for c in name):
            raise f.fail(_S, "a tool name is 1-64 letters, digits, _ or -", f"{param}.name")
        description = f.text(t.get("description", ""), f"{param}.description", _S) or ""
        parameters = t.get("parameters", {"type": "object", "properties": {}})
        f.obj(parameters, f"{param}.parameters", _S)
        if len(json.dumps(parameters)) > MAX_SCHEMA_CHARS:
            raise f.fail(_S, f"a tool's parameters schema is over {MAX_SCHEMA_CHARS} characters",
                         f"{param}.parameters")
        return cls(name, description, parameters)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """A session, or (with UNSET fields) an update of one."""

    instructions: Any = UNSET  # str
    voice: Any = UNSET  # str
    input_format: Any = UNSET  # AudioFormat
    output_format: Any = UNSET  # AudioFormat
    turn_detection: Any = UNSET  # TurnDetection | None
    transcription: Any = UNSET  # Transcription | None
    max_output_tokens: Any = UNSET  # int | None (None = "inf")
    tools: Any = UNSET  # tuple[Tool, ...]
    tool_choice: Any = UNSET  # "auto" | "none" | "required"

    def merged(self, patch: SessionConfig) -> SessionConfig:
        """This session with every field the patch sets replaced."""
        changes = {fl.name: getattr(patch, fl.name) for fl in fields(patch) if getattr(patch, fl.name) is not UNSET}
        return SessionConfig(**{fl.name: changes.get(fl.name, getattr(self, fl.name)) for fl in fields(self)})

    def to_wire(self) -> dict:
        wire: dict[str, Any] = {"type": "realtime"}
        if self.instructions is not UNSET:
            wire["instructions"] = self.instructions
        if self.max_output_tokens is not UNSET:
            wire["max_output_tokens"] = "inf" if self.max_output_tokens is None else self.max_output_tokens
        if self.tools is not UNSET:
            wire["tools"] = [t.to_wire() for t in self.tools]
        if self.tool_choice is not UNSET:
            wire["tool_choice"] = self.tool_choice
        inp = f.drop_unset({
            "format": self.input_format.to_wire() if self.input_format else self.input_format,
            "transcription": self.transcription.to_wire() if self.transcription else self.transcription,
            "turn_detection": self.turn_detection.to_wire() if self.turn_detection else self.turn_detection,
        })
        out = f.drop_unset({
            "format": self.output_format.to_wire() if self.output_format else self.output_format,
            "voice": self.voice,
        })
        audio = {k: v for k, v in (("input", inp), ("output", out)) if v}
        if audio:
            wire["audio"] = audio
        return wire

    @classmethod
    def from_wire(cls, value: Any, param: str = "session") -> SessionConfig:
        s = f.obj(value, param, _S)
        if s.get("type", "realtime") not in ("realtime", None):
            raise f.fail(_S, "only session type 'realtime' is supported", f"{param}.type")
        args: dict[str, Any] = {}
        if "instructions" in s:
            args["instructions"] = f.text(s["instructions"], f"{param}.instructions", _S)
        if "max_output_tokens" in s:
            args["max_output_tokens"] = parse_max_tokens(s["max_output_tokens"], f"{param}.max_output_tokens")
        if "tools" in s:
            tools = s["tools"]
            if not isinstance(tools, list) or len(tools) > MAX_TOOLS:
                raise f.fail(_S, f"tools must be a list of at most {MAX_TOOLS} functions", f"{param}.tools")
            args["tools"] = tuple(Tool.from_wire(t, f"{param}.tools") for t in tools)
        if "tool_choice" in s:
            if s["tool_choice"] not in ("auto", "none", "required"):
                raise f.fail(_S, "tool_choice must be auto, none or required", f"{param}.tool_choice")
            args["tool_choice"] = s["tool_choice"]
        audio = f.obj(s.get("audio", {}), f"{param}.audio", _S)
        inp = f.obj(audio.get("input", {}), f"{param}.audio.input", _S)
        out = f.obj(audio.get("output", {}), f"{param}.audio.output", _S)
        if "format" in inp:
            args["input_format"] = AudioFormat.from_wire(inp["format"], f"{param}.audio.input.format")
        if "format" in out:
            args["output_format"] = AudioFormat.from_wire(out["format"], f"{param}.audio.output.format")
        if "voice" in out:
            args["voice"] = f.text(out["voice"], f"{param}.audio.output.voice", _S, max_chars=64)
        if "turn_detection" in inp:
            args["turn_detection"] = TurnDetection.from_wire(inp["turn_detection"], f"{param}.audio.input.turn_detection")
        if "transcription" in inp:
            args["transcription"] = Transcription.from_wire(inp["transcription"], f"{param}.audio.input.transcription")
        return cls(**args)


def parse_max_tokens(value: Any, param: str) -> int | None:
    if value == "inf" or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise f.fail(_S, 'max_output_tokens must be an integer in [1, 4096] or "inf"', param)
    return value
