"""Server events that stream a response (audio, transcript and function-call argument deltas), rate
limits, and our `x_local.*` timing extensions. Audio deltas are the hot path: they are serialized by
hand (no dict, no json.dumps of the payload) and parsed with one json.loads and one b64decode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import _fields as f
from .server_events import _event_id, _id, _ms


@dataclass(frozen=True, slots=True)
class _PartEvent:
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0

    def _ids(self) -> dict:
        return {"response_id": self.response_id, "item_id": self.item_id, "output_index": self.output_index,
                "content_index": self.content_index}

    @staticmethod
    def _parse_ids(obj: dict) -> tuple[str, str, int, int]:
        return (_id(obj.get("response_id"), "response_id"), _id(obj.get("item_id", ""), "item_id"),
                f.integer(obj.get("output_index", 0), "output_index", 0, 64),
                f.integer(obj.get("content_index", 0), "content_index", 0, 16))


@dataclass(frozen=True, slots=True)
class ResponseOutputAudioDelta(_PartEvent):
    """A chunk of agent audio in the session's output format."""

    type: ClassVar[str] = "response.output_audio.delta"
    delta: bytes = b""
    event_id: str = field(default_factory=_event_id)

    def to_json(self) -> str:
        return (f'{{"type":"{self.type}","event_id":"{self.event_id}","response_id":{json.dumps(self.response_id)},'
                f'"item_id":{json.dumps(self.item_id)},"output_index":{self.output_index},'
                f'"content_index":{self.content_index},"delta":"{f.b64encode(self.delta)}"}}')

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, **self._ids(), "delta": f.b64encode(self.delta)}

    @classmethod
    def from_wire(cls, obj: dict) -> ResponseOutputAudioDelta:
        return cls(*cls._parse_ids(obj), f.b64decode(obj.get("delta"), "delta", "invalid_event"))


@dataclass(frozen=True, slots=True)
class ResponseOutputAudioDone(_PartEvent):
    type: ClassVar[str] = "response.output_audio.done"
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, **self._ids()}

    @classmethod
    def from_wire(cls, obj: dict) -> ResponseOutputAudioDone:
        return cls(*cls._parse_ids(obj))


@dataclass(frozen=True, slots=True)
class ResponseOutputAudioTranscriptDelta(_PartEvent):
    """A piece of the agent's reply text; its audio follows."""

    type: ClassVar[str] = "response.output_audio_transcript.delta"
    delta: str = ""
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, **self._ids(), "delta": self.delta}

    @classmethod
    def from_wire(cls, obj: dict) -> ResponseOutputAudioTranscriptDelta:
        return cls(*cls._parse_ids(obj), f.text(obj.get("delta", ""), "delta") or "")


@dataclass(frozen=True, slots=True)
class ResponseOutputAudioTranscriptDone(_PartEvent):
    type: ClassVar[str] = "response.output_audio_transcript.done"
    transcript: str = ""
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, **self._ids(), "transcript": self.transcript}

    @classmethod
    def from_wire(cls, obj: dict) -> ResponseOutputAudioTranscriptDone:
        return cls(*cls._parse_ids(obj), f.text(obj.get("transcript", ""), "transcript") or "")


@dataclass(frozen=True, slots=True)
class ResponseFunctionCallArgumentsDelta:
    type: ClassVar[str] = "response.function_call_arguments.delta"
    response_id: str
    item_id: str
    call_id: str
    delta: str
    output_index: int = 0
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "response_id": self.response_id,
                "item_id": self.item_id, "output_index": self.output_index, "call_id": self.call_id,
                "delta": self.delta}

    @classmethod
    def from_wire(cls, obj: dict) -> ResponseFunctionCallArgumentsDelta:
        return cls(_id(obj.get("response_id"), "response_id"), _id(obj.get("item_id", ""), "item_id"),
                   _id(obj.get("call_id"), "call_id"), f.text(obj.get("delta", ""), "delta") or "",
                   f.integer(obj.get("output_index", 0), "output_index", 0, 64))


@dataclass(frozen=True, slots=True)
class ResponseFunctionCallArgumentsDone:
    """The model's complete call: `arguments` is JSON text."""

    type: ClassVar[str] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    call_id: str
    name: str
    arguments: str
    output_index: int = 0
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "response_id": self.response_id,
                "item_id": self.item_id, "output_index": self.output_index, "call_id": self.call_id,
                "name": self.name, "arguments": self.arguments}

    @classmethod
    def from_wire(cls, obj: dict) -> ResponseFunctionCallArgumentsDone:
        return cls(_id(obj.get("response_id"), "response_id"), _id(obj.get("item_id", ""), "item_id"),
                   _id(obj.get("call_id"), "call_id"), f.text(obj.get("name", ""), "name", max_chars=64) or "",
                   f.text(obj.get("arguments", ""), "arguments") or "",
                   f.integer(obj.get("output_index", 0), "output_index", 0, 64))


@dataclass(frozen=True, slots=True)
class RateLimit:
    name: str
    limit: int
    remaining: int
    reset_seconds: float


@dataclass(frozen=True, slots=True)
class RateLimitsUpdated:
    type: ClassVar[str] = "rate_limits.updated"
    rate_limits: tuple[RateLimit, ...]
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "rate_limits": [
            {"name": r.name, "limit": r.limit, "remaining": r.remaining, "reset_seconds": r.reset_seconds}
            for r in self.rate_limits]}

    @classmethod
    def from_wire(cls, obj: dict) -> RateLimitsUpdated:
        limits = obj.get("rate_limits") or []
        if not isinstance(limits, list):
            raise f.fail("invalid_event", "rate_limits must be a list", "rate_limits")
        out = []
        for r in limits[:16]:
            r = f.obj(r, "rate_limits")
            out.append(RateLimit(f.text(r.get("name", ""), "rate_limits.name", max_chars=64) or "",
                                 f.integer(r.get("limit", 0), "rate_limits.limit", 0, 10**12),
                                 f.integer(r.get("remaining", 0), "rate_limits.remaining", 0, 10**12),
                                 f.number(r.get("reset_seconds", 0), "rate_limits.reset_seconds", 0, 10**7)))
        return cls(tuple(out))


TURN_STAGES = ("audio_ms", "stt_ms", "speech_stopped_ms", "transcript_ms", "first_token_ms", "first_text_ms",
               "first_audio_ms",
               "llm_first_token_ms", "first_sentence_tts_ms")  # the last two: durations


@dataclass(frozen=True, slots=True)
class XLocalTurnMetrics:
    """local-ai-server's stage timings of one caller turn, in ms from the end of the caller's speech
    (`audio_ms`, `stt_ms`: durations)."""

    type: ClassVar[str] = "x_local.turn.metrics"
    item_id: str
    response_id: str | None
    status: str  # completed | cancelled | no_response
    speculative: bool
    stages: dict[str, int | None]
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "item_id": self.item_id,
                "response_id": self.response_id, "status": self.status, "speculative": self.speculative,
                **{name: self.stages.get(name) for name in TURN_STAGES}}

    @classmethod
    def from_wire(cls, obj: dict) -> XLocalTurnMetrics:
        return cls(_id(obj.get("item_id", ""), "item_id"), _id(obj.get("response_id"), "response_id", True),
                   f.text(obj.get("status", ""), "status", max_chars=32) or "",
                   f.boolean(obj.get("speculative", False), "speculative"),
                   {name: _ms(obj.get(name), name) for name in TURN_STAGES})


@dataclass(frozen=True, slots=True)
class XLocalResponseMetrics:
    """Timings of a response not started by a caller turn (e.g. the greeting), from its request."""

    type: ClassVar[str] = "x_local.response.metrics"
    response_id: str
    status: str
    trigger: str
    first_token_ms: int | None = None
    first_audio_ms: int | None = None
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "response_id": self.response_id,
                "status": self.status, "trigger": self.trigger, "first_token_ms": self.first_token_ms,
                "first_audio_ms": self.first_audio_ms}

    @classmethod
    def from_wire(cls, obj: dict) -> XLocalResponseMetrics:
        return cls(_id(obj.get("response_id"), "response_id"), f.text(obj.get("status", ""), "status", max_chars=32),
                   f.text(obj.get("trigger", ""), "trigger", max_chars=32),
                   _ms(obj.get("first_token_ms"), "first_token_ms"), _ms(obj.get("first_audio_ms"), "first_audio_ms"))


@dataclass(frozen=True, slots=True)
class Unhandled:
    """A server event outside our subset (vendors send many): its type, for logs."""

    type: str
    event_id: str | None = None

    def to_wire(self) -> dict:
        return {"type": self.type}

    @classmethod
    def from_wire(cls, obj: dict) -> Unhandled:
        return cls(str(obj.get("type"))[:128])


