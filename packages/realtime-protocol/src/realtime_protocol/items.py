"""Conversation items: messages (text or audio transcripts), function calls and their outputs.

Wire shapes are the GA Realtime API's (`{"type": "message", "role": ..., "content": [...]}`,
`{"type": "function_call", "call_id", "name", "arguments"}`, `{"type": "function_call_output",
"call_id", "output"}`). `to_wire(server=True)` adds what a server's view of an item carries
(`object`, `status`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from . import _fields as f

Role = Literal["user", "assistant", "system"]
PartType = Literal["input_text", "input_audio", "output_text", "output_audio", "text"]
_ROLES = ("user", "assistant", "system")
_TEXT_KEY = {"input_text": "text", "output_text": "text", "text": "text", "input_audio": "transcript",
             "output_audio": "transcript"}


@dataclass(frozen=True, slots=True)
class ContentPart:
    """Text (`input_text`, `output_text`, `text`) or the transcript of audio (`input_audio`,
    `output_audio`; the audio itself never travels inside an item here)."""

    type: PartType
    text: str = ""

    def to_wire(self) -> dict:
        return {"type": self.type, _TEXT_KEY[self.type]: self.text}

    @classmethod
    def from_wire(cls, value: Any, param: str) -> ContentPart:
        part = f.obj(value, param, "invalid_item")
        kind = part.get("type")
        if kind not in _TEXT_KEY:
            raise f.fail("invalid_item", 'content parts must be text: {"type": "input_text", "text": ...}', param)
        key = _TEXT_KEY[kind]
        body = part.get(key, "" if key == "transcript" else None)
        return cls(kind, f.text(body, f"{param}.{key}", "invalid_item") or "")


@dataclass(frozen=True, slots=True)
class MessageItem:
    id: str | None
    role: Role
    content: tuple[ContentPart, ...]
    status: str = "completed"
    type = "message"

    @property
    def text(self) -> str:
        return " ".join(p.text.strip() for p in self.content if p.text.strip())

    @classmethod
    def of_text(cls, role: Role, text: str, item_id: str | None = None, *, audio: bool = False,
                status: str = "completed") -> MessageItem:
        """A one-part message in the part type the role and origin call for."""
        if role == "user":
            part = "input_audio" if audio else "input_text"
        elif role == "assistant":
            part = "output_audio" if audio else "output_text"
        else:
            part = "input_text"
        return cls(item_id, role, (ContentPart(part, text),), status)  # type: ignore[arg-type]

    def to_wire(self, server: bool = False) -> dict:
        wire: dict = {"type": "message", "role": self.role, "content": [p.to_wire() for p in self.content]}
        if self.id is not None:
            wire = {"id": self.id, **wire}
        if server:
            wire = {"id": self.id, "object": "realtime.item", "type": "message", "status": self.status,
                    "role": self.role, "content": wire["content"]}
        return wire


@dataclass(frozen=True, slots=True)
class FunctionCallItem:
    id: str | None
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it
    status: str = "completed"
    type = "function_call"

    def to_wire(self, server: bool = False) -> dict:
        wire = {"type": "function_call", "call_id": self.call_id, "name": self.name, "arguments": self.arguments}
        if self.id is not None:
            wire = {"id": self.id, **wire}
        if server:
            wire = {"id": self.id, "object": "realtime.item", "status": self.status, **wire}
        return wire


@dataclass(frozen=True, slots=True)
class FunctionCallOutputItem:
    id: str | None
    call_id: str
    output: str  # JSON text (or plain text) given back to the model
    type = "function_call_output"

    def to_wire(self, server: bool = False) -> dict:
        wire = {"type": "function_call_output", "call_id": self.call_id, "output": self.output}
        if self.id is not None:
            wire = {"id": self.id, **wire}
        if server:
            wire = {"id": self.id, "object": "realtime.item", "status": "completed", **wire}
        return wire


Item = MessageItem | FunctionCallItem | FunctionCallOutputItem


def item_from_wire(value: Any, param: str = "item") -> Item:
    item = f.obj(value, param, "invalid_item")
    item_id = f.text(item.get("id"), f"{param}.id", "invalid_item", max_chars=64, optional=True)
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role")
        if role not in _ROLES:
            raise f.fail("invalid_item", "item.role must be user, assistant or system", f"{param}.role")
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise f.fail("invalid_item", "item.content must be a non-empty list", f"{param}.content")
        if len(content) > 16:
            raise f.fail("invalid_item", "item.content has more than 16 parts", f"{param}.content")
        parts = tuple(ContentPart.from_wire(p, f"{param}.content") for p in content)
        status = item.get("status", "completed")
        return MessageItem(item_id, role, parts, status if isinstance(status, str) else "completed")
    if kind == "function_call":
        return FunctionCallItem(
            item_id,
            f.text(item.get("call_id"), f"{param}.call_id", "invalid_item", max_chars=64),
            f.text(item.get("name"), f"{param}.name", "invalid_item", max_chars=64),
            f.text(item.get("arguments", ""), f"{param}.arguments", "invalid_item"),
        )
    if kind == "function_call_output":
        return FunctionCallOutputItem(
            item_id,
            f.text(item.get("call_id"), f"{param}.call_id", "invalid_item", max_chars=64),
            f.text(item.get("output"), f"{param}.output", "invalid_item"),
        )
    raise f.fail("invalid_item", "item.type must be message, function_call or function_call_output",
                 f"{param}.type")
