"""Client events (client -> server): the subset we speak, one frozen class per event.

Each class's `type` is the one place its wire name is spelled; `to_wire()` gives the JSON object and
`from_wire(obj)` parses one strictly (a `ProtocolError` names the bad field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from . import _fields as f
from .items import Item, item_from_wire
from .session import SessionConfig, parse_max_tokens


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    type: ClassVar[str] = "session.update"
    session: SessionConfig
    event_id: str | None = None

    def to_wire(self) -> dict:
        return _with_id({"type": self.type, "session": self.session.to_wire()}, self.event_id)

    @classmethod
    def from_wire(cls, obj: dict, event_id: str | None) -> SessionUpdate:
        if "session" not in obj:
            raise f.fail("invalid_session", "session.update needs a `session` object", "session")
        return cls(SessionConfig.from_wire(obj["session"]), event_id)


@dataclass(frozen=True, slots=True)
class InputAudioBufferAppend:
    """Caller audio in the session's input format (base64 on the wire)."""

    type: ClassVar[str] = "input_audio_buffer.append"
    audio: bytes
    event_id: str | None = None

    def to_wire(self) -> dict:
        return _with_id({"type": self.type, "audio": f.b64encode(self.audio)}, self.event_id)

    @classmethod
    def from_wire(cls, obj: dict, event_id: str | None) -> InputAudioBufferAppend:
        return cls(f.b64decode(obj.get("audio"), "audio"), event_id)


@dataclass(frozen=True, slots=True)
class InputAudioBufferClear:
    type: ClassVar[str] = "input_audio_buffer.clear"
    event_id: str | None = None

    def to_wire(self) -> dict:
        return _with_id({"type": self.type}, self.event_id)

    @classmethod
    def from_wire(cls, obj: dict, event_id: str | None) -> InputAudioBufferClear:
        return cls(event_id)


@dataclass(frozen=True, slots=True)
class InputAudioBufferCommit:
    type: ClassVar[str] = "input_audio_buffer.commit"
    event_id: str | None = None

    def to_wire(self) -> dict:
        return _with_id({"type": self.type}, self.event_id)

    @classmethod
    def from_wire(cls, obj: dict, event_id: str | None) -> InputAudioBufferCommit:
        return cls(event_id)


@dataclass(frozen=True, slots=True)
class ResponseCreate:
    """`instructions` replace the session's for this response only (e.g. "Say exactly: ...")."""

    type: ClassVar[str] = "response.create"
    instructions: str | None = None
    max_output_tokens: int | None = None
    tool_choice: str | None = None
    event_id: str | None = None

    def to_wire(self) -> dict:
        response = f.drop_unset({
            "instructions": self.instructions if self.instructions is not None else f.UNSET,
            "max_output_tokens": self.max_output_tokens if self.max_output_tokens is not None else f.UNSET,
            "tool_choice": self.tool_choice if self.tool_choice is not None else f.UNSET,
        })
        wire: dict[str, Any] = {"type": self.type}
        if response:
            wire["response"] = response
        return _with_id(wire, self.event_id)

    @classmethod
    def from_wire(cls, obj: dict, event_id: str | None) -> ResponseCreate:
        response = obj.get("response") or {}
        f.obj(response, "response", "invalid_response")
        tool_choice = response.get("tool_choice")
        if tool_choice is not None and tool_choice not in ("auto", "none", "required"):
            raise f.fail("invalid_response", "tool_choice must be auto, none or required", "response.tool_choice")
        return cls(
            f.text(response.get("instructions"), "response.instructions", "invalid_response", optional=True),
            parse_max_tokens(response.get("max_output_tokens"), "response.max_output_tokens"),
            tool_choice,
            event_id,
        )


@dataclass(frozen=True, slots=True)
class ResponseCancel:
    type: ClassVar[str] = "response.cancel"
    response_id: str | None = None
    event_id: str | None = None

    def to_wire(self) -> dict:
        wire = {"type": self.type, **({"response_id": self.response_id} if self.response_id else {})}
        return _with_id(wire, self.event_id)

    @classmethod
    def from_wire(cls, obj: dict, event_id: str | None) -> ResponseCancel:
        return cls(f.text(obj.get("response_id"), "response_id", max_chars=64, optional=True), event_id)


@dataclass(frozen=True, slots=True)
class ConversationItemCreate:
    """Add an item: a message, or the output of a function call the model asked for."""

    type: ClassVar[str] = "conversation.item.create"
    item: Item
    previous_item_id: str | None = None
    event_id: str | None = None

    def to_wire(self) -> dict:
        wire: dict[str, Any] = {"type": self.type, "item": self.item.to_wire()}
        if self.previous_item_id is not None:
            wire["previous_item_id"] = self.previous_item_id
        return _with_id(wire, self.event_id)

    @classmethod
    def from_wire(cls, obj: dict, event_id: str | None) -> ConversationItemCreate:
        if "item" not in obj:
            raise f.fail("invalid_item", "conversation.item.create needs an `item` object", "item")
        previous = f.text(obj.get("previous_item_id"), "previous_item_id", max_chars=64, optional=True)
        return cls(item_from_wire(obj["item"]), previous, event_id)


@dataclass(frozen=True, slots=True)
class ConversationItemTruncate:
    """After a barge-in: the caller heard only `audio_end_ms` of this assistant item's audio."""

    type: ClassVar[str] = "conversation.item.truncate"
    item_id: str
    audio_end_ms: int
    content_index: int = 0
    event_id: str | None = None

    def to_wire(self) -> dict:
        return _with_id({"type": self.type, "item_id": self.item_id, "content_index": self.content_index,
                         "audio_end_ms": self.audio_end_ms}, self.event_id)

    @classmethod
    def from_wire(cls, obj: dict, event_id: str | None) -> ConversationItemTruncate:
        return cls(
            f.text(obj.get("item_id"), "item_id", max_chars=64) or "",
            f.integer(obj.get("audio_end_ms"), "audio_end_ms", 0, 86_400_000),
            f.integer(obj.get("content_index", 0), "content_index", 0, 16),
            event_id,
        )


ClientEvent = (
    SessionUpdate | InputAudioBufferAppend | InputAudioBufferClear | InputAudioBufferCommit | ResponseCreate
    | ResponseCancel | ConversationItemCreate | ConversationItemTruncate
)

CLIENT_EVENTS: dict[str, Any] = {cls.type: cls for cls in (
    SessionUpdate, InputAudioBufferAppend, InputAudioBufferClear, InputAudioBufferCommit, ResponseCreate,
    ResponseCancel, ConversationItemCreate, ConversationItemTruncate,
)}


def _with_id(wire: dict, event_id: str | None) -> dict:
    if event_id is not None:
        wire["event_id"] = event_id
    return wire
