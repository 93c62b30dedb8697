"""Tools in the Realtime protocol (local-ai-server and OpenAI alike, spelled by the shared
`realtime_protocol` package): the session's `tools` + `tool_choice`, the model's call as
`response.function_call_arguments.done`, and our answer as a `function_call_output` item,
followed by `response.create` when the model should go on talking."""

from __future__ import annotations

from collections.abc import Sequence

import realtime_protocol as rp

from ..tools.base import ToolSpec


def tool_config(tools: Sequence[ToolSpec]) -> dict:
    """The SessionConfig fields that offer `tools` (none at all when there are no tools)."""
    if not tools:
        return {}
    return {"tools": tuple(rp.Tool(t.name, t.description, t.parameters) for t in tools), "tool_choice": "auto"}


def user_text(text: str) -> list[object]:
    """A user turn in text (a key press), then a response to it."""
    return [rp.ConversationItemCreate(rp.MessageItem.of_text("user", text)), rp.ResponseCreate()]


def tool_result(call_id: str, output: str, respond: bool) -> list[object]:
    events: list[object] = [rp.ConversationItemCreate(rp.FunctionCallOutputItem(None, call_id, output))]
    if respond:
        events.append(rp.ResponseCreate())
    return events
