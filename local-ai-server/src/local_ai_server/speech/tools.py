"""Function calling for a local LLM (sans-IO): how the session's tools are put to the model and
how its choice is read back, without any free-text parsing.

Every assistant message, when the session has tools, starts with an action word and a colon:

    say: Our store opens at nine.            (spoken to the caller)
    transfer: {"target": "sales"}             (a call of the tool `transfer`)

A response is made in two constrained steps (the model's backend turns `options` and `schema`
into llama.cpp grammars):

1. the decision: the assistant message's first word, chosen among `say` and the tool names
   (`decision_options`); one or two tokens, so the spoken path costs little more than without tools;
2. `say`: the reply is generated freely after the prefix `say:` (streamed to speech as before);
   a tool: its arguments are generated after `name:` under the tool's JSON schema, so they are
   always JSON that matches it.

Past turns are written in the same form in the prompt (`render_*`), so the model sees its own
earlier calls and their results.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from realtime_protocol import Tool

SAY = "say"
SEPARATOR = ":"
TOOL_ROLE = "tool"  # chat role of a function's output in the prompt (ChatML-style templates take any role)


def prefix_for(action: str) -> str:
    """The start of the assistant message once `action` is chosen (the model continues after it)."""
    return action + SEPARATOR


def decision_options(tools: Sequence[Tool], tool_choice: str) -> list[str]:
    """The words the decision may choose: `say` (unless a call is required) and the tool names
    (none when tool_choice is `none`)."""
    if tool_choice == "none" or not tools:
        return [SAY]
    names = [t.name for t in tools if t.name != SAY]
    return names if tool_choice == "required" and names else [SAY, *names]


def arguments_schema(tool: Tool) -> dict:
    """The JSON schema the arguments are generated under: the tool's own, as an object."""
    schema = dict(tool.parameters) if isinstance(tool.parameters, dict) else {}
    schema.setdefault("type", "object")
    if schema.get("type") == "object":
        schema.setdefault("properties", {})
    return schema


def _example(schema: dict) -> str:
    """The arguments in one line: a property's allowed values (`"a" | "b"`: no one value is put
    in the model's mouth), else a placeholder of its type."""
    parts = []
    for name, spec in (schema.get("properties") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        if spec.get("enum"):
            value = " | ".join(json.dumps(v) for v in spec["enum"])
        elif spec.get("type") in ("integer", "number"):
            value = "0"
        elif spec.get("type") == "boolean":
            value = "true | false"
        else:
            value = '"..."'
        parts.append(f"{json.dumps(name)}: {value}")
    return "{" + ", ".join(parts) + "}"


def tool_instructions(tools: Sequence[Tool], tool_choice: str = "auto") -> str:
    """The part of the system prompt that lists the tools and the reply format."""
    if not tools or tool_choice == "none":
        return f'Start every reply with "{prefix_for(SAY)}" followed by the words to say to the caller.'
    lines = ["You can act on the call with these tools:"]
    for tool in tools:
        schema = arguments_schema(tool)
        lines.append(f"- {tool.name}: {tool.description.strip()} Arguments: {_example(schema)}")
    first = tools[0]
    lines.append(
        f'Start every reply with "{prefix_for(SAY)}" followed by the words to say to the caller, or, to use a '
        f'tool, with its name, a colon and its JSON arguments, like "{prefix_for(first.name)} {{...}}".')
    if tool_choice == "required":
        lines.append("Use a tool now.")
    return "\n".join(lines)


def render_said(text: str) -> str:
    return f"{prefix_for(SAY)} {text}"


def render_call(name: str, arguments: str) -> str:
    return f"{prefix_for(name)} {arguments}"


def render_output(name: str | None, output: str, max_chars: int) -> str:
    if max_chars > 0 and len(output) > max_chars:
        output = output[:max_chars] + "..."
    return f"{name or 'tool'} result: {output}"
