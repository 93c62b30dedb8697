"""The Realtime protocol subset, sans-IO: client event parsing/validation and server event builders.

Nothing here touches a socket: `parse_client_event` turns one WebSocket text message into a typed
event or raises `ProtocolError` (which becomes an `error` event), and the `server_*` helpers build
the JSON objects the server sends. Event names follow the GA OpenAI Realtime API; our own
extensions use the `x_local.` prefix.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..speech.audio import AudioFormat, AudioFormatError

UNSET: Any = object()  # a field the client did not send (distinct from an explicit null)


class ProtocolError(Exception):
    """A client event the server cannot act on; sent back as an `error` event."""

    def __init__(self, code: str, message: str, *, event_id: str | None = None, param: str | None = None,
                 error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event_id = event_id
        self.param = param
        self.error_type = error_type


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


# --- client events ------------------------------------------------------------------------------


@dataclass(slots=True)
class TurnDetection:
    """`server_vad` settings; fields the client left out keep the server defaults (None here)."""

    silence_duration_ms: int | None = None
    prefix_padding_ms: int | None = None
    threshold: float | None = None
    create_response: bool = True
    interrupt_response: bool = True


@dataclass(slots=True)
class SessionPatch:
    """The fields of a `session.update`; UNSET where the client did not send them."""

    instructions: Any = UNSET
    voice: Any = UNSET
    input_format: Any = UNSET
    output_format: Any = UNSET
    turn_detection: Any = UNSET  # TurnDetection, or None for "no turn detection"
    max_output_tokens: Any = UNSET


@dataclass(slots=True)
class SessionUpdate:
    patch: SessionPatch
    event_id: str | None = None
    type: str = "session.update"


@dataclass(slots=True)
class AudioAppend:
    audio: bytes
    event_id: str | None = None
    type: str = "input_audio_buffer.append"


@dataclass(slots=True)
class AudioClear:
    event_id: str | None = None
    type: str = "input_audio_buffer.clear"


@dataclass(slots=True)
class AudioCommit:
    event_id: str | None = None
    type: str = "input_audio_buffer.commit"


@dataclass(slots=True)
class ResponseCreate:
    instructions: str | None = None
    max_output_tokens: int | None = None
    event_id: str | None = None
    type: str = "response.create"


@dataclass(slots=True)
class ResponseCancel:
    response_id: str | None = None
    event_id: str | None = None
    type: str = "response.cancel"


@dataclass(slots=True)
class ItemCreate:
    item_id: str
    role: str  # "user" | "assistant" | "system"
    text: str
    event_id: str | None = None
    type: str = "conversation.item.create"


ClientEvent = SessionUpdate | AudioAppend | AudioClear | AudioCommit | ResponseCreate | ResponseCancel | ItemCreate

CLIENT_EVENT_TYPES = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.clear",
    "input_audio_buffer.commit",
    "response.create",
    "response.cancel",
    "conversation.item.create",
)


def parse_client_event(message: str | bytes, *, max_bytes: int, input_format: AudioFormat) -> ClientEvent:
    """Parse one client message. Raises ProtocolError for anything the server cannot accept."""
    if isinstance(message, bytes):
        raise ProtocolError("invalid_message", "binary WebSocket messages are not supported; send JSON text")
    if len(message) > max_bytes:
        raise ProtocolError("message_too_large", f"message of {len(message)} bytes exceeds the {max_bytes} byte limit")
    try:
        obj = json.loads(message)
    except (ValueError, RecursionError) as exc:  # ValueError also: an integer over 4,300 digits
        raise ProtocolError("invalid_json", f"message is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("invalid_event", "an event must be a JSON object")
    event_id = obj.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        raise ProtocolError("invalid_event", "event_id must be a string", param="event_id")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_event", "an event needs a string `type`", event_id=event_id, param="type")
    parser = _PARSERS.get(kind)
    if parser is None:
        raise ProtocolError("unknown_event", f"unknown or unsupported event type {kind!r}", event_id=event_id,
                            param="type")
    try:
        return parser(obj, event_id, input_format)
    except ProtocolError as exc:
        exc.event_id = event_id
        raise


def _parse_append(obj: dict, event_id: str | None, input_format: AudioFormat) -> AudioAppend:
    audio = obj.get("audio")
    if not isinstance(audio, str):
        raise ProtocolError("invalid_audio", "input_audio_buffer.append needs `audio`, a base64 string", param="audio")
    try:
        data = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("invalid_audio", "`audio` is not valid base64", param="audio") from None
    if input_format.encoding == "pcm" and len(data) % 2:
        raise ProtocolError(
            "invalid_audio",
            f"audio/pcm needs whole 16-bit samples; got {len(data)} bytes (an odd count)",
            param="audio",
        )
    return AudioAppend(audio=data, event_id=event_id)


def _parse_session_update(obj: dict, event_id: str | None, _fmt: AudioFormat) -> SessionUpdate:
    session = obj.get("session")
    if not isinstance(session, dict):
        raise ProtocolError("invalid_session", "session.update needs a `session` object", param="session")
    patch = SessionPatch()
    if "type" in session and session["type"] not in ("realtime", None):
        raise ProtocolError("invalid_session", "only session type 'realtime' is supported", param="session.type")
    if "instructions" in session:
        if not isinstance(session["instructions"], str):
            raise ProtocolError("invalid_session", "instructions must be a string", param="session.instructions")
        patch.instructions = _unicode(session["instructions"], "session.instructions")
    if "max_output_tokens" in session:
        patch.max_output_tokens = _parse_max_tokens(session["max_output_tokens"], "session.max_output_tokens")
    audio = session.get("audio", {})
    if not isinstance(audio, dict):
        raise ProtocolError("invalid_session", "session.audio must be an object", param="session.audio")
    inp = audio.get("input", {})
    out = audio.get("output", {})
    if not isinstance(inp, dict) or not isinstance(out, dict):
        raise ProtocolError("invalid_session", "session.audio.input/output must be objects", param="session.audio")
    try:
        if "format" in inp:
            patch.input_format = AudioFormat.from_wire(inp["format"])
        if "format" in out:
            patch.output_format = AudioFormat.from_wire(out["format"])
    except AudioFormatError as exc:
        raise ProtocolError("invalid_audio_format", str(exc), param="session.audio.format") from None
    if "voice" in out:
        if not isinstance(out["voice"], str):
            raise ProtocolError("invalid_session", "voice must be a string", param="session.audio.output.voice")
        patch.voice = out["voice"]
    if "turn_detection" in inp:
        patch.turn_detection = _parse_turn_detection(inp["turn_detection"])
    return SessionUpdate(patch=patch, event_id=event_id)


def _parse_turn_detection(td: Any) -> TurnDetection | None:
    if td is None:
        return None
    if not isinstance(td, dict):
        raise ProtocolError("invalid_session", "turn_detection must be an object or null",
                            param="session.audio.input.turn_detection")
    if td.get("type", "server_vad") != "server_vad":
        raise ProtocolError("invalid_session", f"turn_detection type {td.get('type')!r} is not supported (server_vad)",
                            param="session.audio.input.turn_detection.type")
    result = TurnDetection()
    for name, lo, hi in (("silence_duration_ms", 100, 10000), ("prefix_padding_ms", 0, 5000)):
        if name in td and td[name] is not None:
            value = td[name]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ProtocolError("invalid_session", f"{name} must be an integer in [{lo}, {hi}]",
                                    param=f"session.audio.input.turn_detection.{name}")
            setattr(result, name, value)
    if td.get("threshold") is not None:
        value = td["threshold"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ProtocolError("invalid_session", "threshold must be a number in [0, 1]",
                                param="session.audio.input.turn_detection.threshold")
        result.threshold = float(value)
    for name in ("create_response", "interrupt_response"):
        if name in td:
            if not isinstance(td[name], bool):
                raise ProtocolError("invalid_session", f"{name} must be true or false",
                                    param=f"session.audio.input.turn_detection.{name}")
            setattr(result, name, td[name])
    return result


def _parse_max_tokens(value: Any, param: str) -> int | None:
    if value == "inf" or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProtocolError("invalid_session", "max_output_tokens must be a positive integer or \"inf\"", param=param)
    return value


def _parse_response_create(obj: dict, event_id: str | None, _fmt: AudioFormat) -> ResponseCreate:
    response = obj.get("response", {})
    if response is None:
        response = {}
    if not isinstance(response, dict):
        raise ProtocolError("invalid_response", "response must be an object", param="response")
    instructions = response.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise ProtocolError("invalid_response", "response.instructions must be a string", param="response.instructions")
    if instructions is not None:
        _unicode(instructions, "response.instructions")
    max_tokens = _parse_max_tokens(response.get("max_output_tokens"), "response.max_output_tokens")
    return ResponseCreate(instructions=instructions, max_output_tokens=max_tokens, event_id=event_id)


def _parse_response_cancel(obj: dict, event_id: str | None, _fmt: AudioFormat) -> ResponseCancel:
    response_id = obj.get("response_id")
    if response_id is not None and not isinstance(response_id, str):
        raise ProtocolError("invalid_event", "response_id must be a string", param="response_id")
    return ResponseCancel(response_id=response_id, event_id=event_id)


_TEXT_PARTS = ("input_text", "text", "output_text")


def _parse_item_create(obj: dict, event_id: str | None, _fmt: AudioFormat) -> ItemCreate:
    item = obj.get("item")
    if not isinstance(item, dict):
        raise ProtocolError("invalid_item", "conversation.item.create needs an `item` object", param="item")
    if item.get("type", "message") != "message":
        raise ProtocolError("invalid_item", "only items of type 'message' are supported", param="item.type")
    role = item.get("role")
    if role not in ("user", "assistant", "system"):
        raise ProtocolError("invalid_item", "item.role must be user, assistant or system", param="item.role")
    content = item.get("content")
    if not isinstance(content, list) or not content:
        raise ProtocolError("invalid_item", "item.content must be a non-empty list", param="item.content")
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") not in _TEXT_PARTS or not isinstance(part.get("text"), str):
            raise ProtocolError("invalid_item", "content parts must be text: {\"type\": \"input_text\", \"text\": ...}",
                                param="item.content")
        texts.append(_unicode(part["text"], "item.content"))
    text = " ".join(t.strip() for t in texts if t.strip())
    if not text:
        raise ProtocolError("invalid_item", "item text is empty", param="item.content")
    item_id = item.get("id")
    if item_id is not None and not isinstance(item_id, str):
        raise ProtocolError("invalid_item", "item.id must be a string", param="item.id")
    return ItemCreate(item_id=item_id or new_id("item"), role=role, text=text, event_id=event_id)


def _unicode(text: str, param: str) -> str:
    """JSON may carry lone UTF-16 surrogates ("\\ud800"); they are not text and would break every
    later prompt and log line of the session."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("invalid_text", "text contains a lone surrogate (not valid Unicode)", param=param) from None
    return text


def _no_fields(cls):
    return lambda obj, event_id, _fmt: cls(event_id=event_id)


_PARSERS = {
    "session.update": _parse_session_update,
    "input_audio_buffer.append": _parse_append,
    "input_audio_buffer.clear": _no_fields(AudioClear),
    "input_audio_buffer.commit": _no_fields(AudioCommit),
    "response.create": _parse_response_create,
    "response.cancel": _parse_response_cancel,
    "conversation.item.create": _parse_item_create,
}


# --- server events ------------------------------------------------------------------------------


def server_event(kind: str, **fields: Any) -> dict:
    return {"type": kind, "event_id": new_id("event"), **fields}


def error_event(exc: ProtocolError) -> dict:
    error = {"type": exc.error_type, "code": exc.code, "message": exc.message, "param": exc.param,
             "event_id": exc.event_id}
    return server_event("error", error=error)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def message_item(item_id: str, role: str, text: str, *, status: str = "completed", audio: bool = False) -> dict:
    if role == "user":
        part = {"type": "input_audio", "transcript": text} if audio else {"type": "input_text", "text": text}
    elif role == "assistant":
        part = {"type": "output_audio", "transcript": text} if audio else {"type": "output_text", "text": text}
    else:
        part = {"type": "input_text", "text": text}
    return {"id": item_id, "object": "realtime.item", "type": "message", "status": status, "role": role,
            "content": [part]}


@dataclass(slots=True)
class ResponseInfo:
    """What `response.created` / `response.done` describe."""

    id: str
    status: str = "in_progress"
    status_details: dict | None = None
    output: list = field(default_factory=list)
    conversation_id: str | None = None

    def to_wire(self, output_format: AudioFormat, voice: str) -> dict:
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": self.status,
            "status_details": self.status_details,
            "output": self.output,
            "conversation_id": self.conversation_id,
            "output_modalities": ["audio"],
            "audio": {"output": {"format": output_format.to_wire(), "voice": voice}},
        }
