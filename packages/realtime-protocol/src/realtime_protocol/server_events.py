"""Server events (server -> client): the subset we speak, one frozen class per event, plus our
`x_local.*` extensions (per-turn stage timings from local-ai-server).

Each class's `type` is the one place its wire name is spelled. `to_wire()` gives the JSON object
(with a fresh `event_id`); `from_wire(obj)` parses one strictly. A server event type outside this
subset parses to `Unhandled` (vendors send many more; a client skips them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import _fields as f
from .formats import AudioFormat
from .items import Item, item_from_wire
from .session import SessionConfig

_MAX_MS = 86_400_000


def _event_id() -> str:
    return f.new_id("event")


def _ms(value: Any, param: str) -> int | None:
    return None if value is None else f.integer(value, param, -_MAX_MS, _MAX_MS)


def _id(value: Any, param: str, optional: bool = False) -> str | None:
    return f.text(value, param, max_chars=128, optional=optional)


@dataclass(frozen=True, slots=True)
class Error:
    type: ClassVar[str] = "error"
    code: str
    message: str
    param: str | None = None
    client_event_id: str | None = None
    error_type: str = "invalid_request_error"
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "error": {
            "type": self.error_type, "code": self.code, "message": self.message, "param": self.param,
            "event_id": self.client_event_id}}

    @classmethod
    def from_wire(cls, obj: dict) -> Error:
        error = f.obj(obj.get("error"), "error")
        return cls(str(error.get("code") or error.get("type") or "error"), str(error.get("message", ""))[:2000],
                   _id(error.get("param"), "error.param", True), _id(error.get("event_id"), "error.event_id", True),
                   str(error.get("type", "error")))

    @classmethod
    def of(cls, exc: Any) -> Error:
        """The `error` event for a ProtocolError."""
        return cls(exc.code, exc.message, exc.param, exc.event_id, exc.error_type)


@dataclass(frozen=True, slots=True)
class _SessionEvent:
    session: SessionConfig
    id: str
    model: str = ""
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        session = {"type": "realtime", "object": "realtime.session", "id": self.id, "model": self.model,
                   "output_modalities": ["audio"], **self.session.to_wire()}
        return {"type": self.type, "event_id": self.event_id, "session": session}  # type: ignore[attr-defined]

    @classmethod
    def from_wire(cls, obj: dict):
        session = f.obj(obj.get("session"), "session")
        return cls(SessionConfig.from_wire(session), str(session.get("id", "")), str(session.get("model", "")))


@dataclass(frozen=True, slots=True)
class SessionCreated(_SessionEvent):
    type: ClassVar[str] = "session.created"


@dataclass(frozen=True, slots=True)
class SessionUpdated(_SessionEvent):
    type: ClassVar[str] = "session.updated"


@dataclass(frozen=True, slots=True)
class InputAudioBufferSpeechStarted:
    type: ClassVar[str] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "audio_start_ms": self.audio_start_ms,
                "item_id": self.item_id}

    @classmethod
    def from_wire(cls, obj: dict) -> InputAudioBufferSpeechStarted:
        return cls(_ms(obj.get("audio_start_ms", 0), "audio_start_ms") or 0, _id(obj.get("item_id", ""), "item_id"))


@dataclass(frozen=True, slots=True)
class InputAudioBufferSpeechStopped:
    type: ClassVar[str] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "audio_end_ms": self.audio_end_ms,
                "item_id": self.item_id}

    @classmethod
    def from_wire(cls, obj: dict) -> InputAudioBufferSpeechStopped:
        return cls(_ms(obj.get("audio_end_ms", 0), "audio_end_ms") or 0, _id(obj.get("item_id", ""), "item_id"))


@dataclass(frozen=True, slots=True)
class InputAudioBufferCommitted:
    type: ClassVar[str] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "item_id": self.item_id,
                "previous_item_id": self.previous_item_id}

    @classmethod
    def from_wire(cls, obj: dict) -> InputAudioBufferCommitted:
        return cls(_id(obj.get("item_id"), "item_id"), _id(obj.get("previous_item_id"), "previous_item_id", True))


@dataclass(frozen=True, slots=True)
class InputAudioBufferCleared:
    type: ClassVar[str] = "input_audio_buffer.cleared"
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id}

    @classmethod
    def from_wire(cls, obj: dict) -> InputAudioBufferCleared:
        return cls()


@dataclass(frozen=True, slots=True)
class _ItemEvent:
    item: Item
    previous_item_id: str | None = None
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id,  # type: ignore[attr-defined]
                "previous_item_id": self.previous_item_id, "item": self.item.to_wire(server=True)}

    @classmethod
    def from_wire(cls, obj: dict):
        return cls(item_from_wire(obj.get("item")), _id(obj.get("previous_item_id"), "previous_item_id", True))


@dataclass(frozen=True, slots=True)
class ConversationItemAdded(_ItemEvent):
    type: ClassVar[str] = "conversation.item.added"


@dataclass(frozen=True, slots=True)
class ConversationItemDone(_ItemEvent):
    type: ClassVar[str] = "conversation.item.done"


@dataclass(frozen=True, slots=True)
class InputAudioTranscriptionCompleted:
    type: ClassVar[str] = "conversation.item.input_audio_transcription.completed"
    item_id: str
    transcript: str
    content_index: int = 0
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "item_id": self.item_id,
                "content_index": self.content_index, "transcript": self.transcript}

    @classmethod
    def from_wire(cls, obj: dict) -> InputAudioTranscriptionCompleted:
        return cls(_id(obj.get("item_id"), "item_id"), f.text(obj.get("transcript", ""), "transcript") or "",
                   f.integer(obj.get("content_index", 0), "content_index", 0, 16))


@dataclass(frozen=True, slots=True)
class ConversationItemTruncated:
    type: ClassVar[str] = "conversation.item.truncated"
    item_id: str
    audio_end_ms: int
    content_index: int = 0
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "item_id": self.item_id,
                "content_index": self.content_index, "audio_end_ms": self.audio_end_ms}

    @classmethod
    def from_wire(cls, obj: dict) -> ConversationItemTruncated:
        return cls(_id(obj.get("item_id"), "item_id"), _ms(obj.get("audio_end_ms", 0), "audio_end_ms") or 0,
                   f.integer(obj.get("content_index", 0), "content_index", 0, 16))


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """The `response` object of `response.created` / `response.done`."""

    id: str
    status: str = "in_progress"  # in_progress | completed | cancelled | failed | incomplete
    status_details: dict | None = None
    output: tuple[Item, ...] = ()
    output_format: AudioFormat | None = None
    voice: str | None = None

    def to_wire(self) -> dict:
        wire: dict[str, Any] = {"object": "realtime.response", "id": self.id, "status": self.status,
                                "status_details": self.status_details,
                                "output": [i.to_wire(server=True) for i in self.output],
                                "conversation_id": None, "output_modalities": ["audio"]}
        if self.output_format is not None:
            wire["audio"] = {"output": {"format": self.output_format.to_wire(), "voice": self.voice}}
        return wire

    @classmethod
    def from_wire(cls, value: Any) -> ResponseInfo:
        r = f.obj(value, "response")
        status = f.text(r.get("status", "in_progress"), "response.status", max_chars=32)
        details = r.get("status_details")
        if details is not None:
            f.obj(details, "response.status_details")
        output = r.get("output") or []
        if not isinstance(output, list):
            raise f.fail("invalid_event", "response.output must be a list", "response.output")
        items = []
        for item in output[:64]:
            try:
                items.append(item_from_wire(item, "response.output"))
            except Exception:  # an output kind we do not speak (e.g. mcp_call): not ours to read
                continue
        return cls(_id(r.get("id", ""), "response.id") or "", status or "in_progress", details, tuple(items))


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    type: ClassVar[str] = "response.created"
    response: ResponseInfo
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "response": self.response.to_wire()}

    @classmethod
    def from_wire(cls, obj: dict) -> ResponseCreated:
        return cls(ResponseInfo.from_wire(obj.get("response")))


@dataclass(frozen=True, slots=True)
class ResponseDone:
    type: ClassVar[str] = "response.done"
    response: ResponseInfo
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "response": self.response.to_wire()}

    @classmethod
    def from_wire(cls, obj: dict) -> ResponseDone:
        return cls(ResponseInfo.from_wire(obj.get("response")))


@dataclass(frozen=True, slots=True)
class _OutputItemEvent:
    response_id: str
    item: Item
    output_index: int = 0
    event_id: str = field(default_factory=_event_id)

    def to_wire(self) -> dict:
        return {"type": self.type, "event_id": self.event_id, "response_id": self.response_id,  # type: ignore[attr-defined]
                "output_index": self.output_index, "item": self.item.to_wire(server=True)}

    @classmethod
    def from_wire(cls, obj: dict):
        return cls(_id(obj.get("response_id"), "response_id"), item_from_wire(obj.get("item")),
                   f.integer(obj.get("output_index", 0), "output_index", 0, 64))


@dataclass(frozen=True, slots=True)
class ResponseOutputItemAdded(_OutputItemEvent):
    type: ClassVar[str] = "response.output_item.added"


@dataclass(frozen=True, slots=True)
class ResponseOutputItemDone(_OutputItemEvent):
    type: ClassVar[str] = "response.output_item.done"
