"""Tools in the Realtime protocol (local-ai-server and OpenAI alike, spelled by the shared
`realtime_protocol` package): the session's `tools` + `tool_choice`, the model's call as
`response.function_call_arguments.done`, and our answer as a `function_call_output` item,
followed by `response.create` when the model should go on talking."""

from __future__ import annotations

from collections.abc import Sequence

import realtime_protocol as rp

from ..tools.base import ToolSpec


def tool_config(tools: Sequence[ToolSpec], tool_choice: str = "auto") -> dict:
    """The SessionConfig fields that offer `tools` (none at all when there are no tools);
    `tool_choice` is the persona's: `auto`, `none` or `required` (a tool on every response)."""
    if not tools:
        return {}
    return {"tools": tuple(rp.Tool(t.name, t.description, t.parameters) for t in tools), "tool_choice": tool_choice}


def after_tool_choice(tool_choice: str) -> str | None:
    """The response that follows a tool result: under `required` it is `auto`, so the model can
    speak the result instead of calling a tool again (otherwise the session's choice holds)."""
    return "auto" if tool_choice == "required" else None


def user_text(text: str) -> list[object]:
    """A user turn in text (a key press), then a response to it."""
    return [rp.ConversationItemCreate(rp.MessageItem.of_text("user", text)), rp.ResponseCreate()]


def tool_result(call_id: str, output: str, respond: bool, tool_choice: str = "auto") -> list[object]:
    events: list[object] = [rp.ConversationItemCreate(rp.FunctionCallOutputItem(None, call_id, output))]
    if respond:
        events.append(rp.ResponseCreate(tool_choice=after_tool_choice(tool_choice)))
    return events
