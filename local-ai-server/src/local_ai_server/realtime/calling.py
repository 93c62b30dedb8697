"""Function calling in a response (the form and the two steps are in speech/tools.py).

`decide` runs the decision (the reply's first word: `say` or a tool name). When a tool is chosen,
`write_call` makes the response that call: `response.output_item.added` with a `function_call`
item, then the arguments, generated under the tool's JSON schema, as
`response.function_call_arguments.delta` events (the end, `...arguments.done` and
`response.output_item.done`, is sent with `response.done` by `responses`). Arguments that do not
parse (cut by `llm.tool_arguments_max_tokens`) raise `CallFailed`: the response fails rather than
sending a half-written call.
"""

from __future__ import annotations

import json
import time

from realtime_protocol import FunctionCallItem, ResponseFunctionCallArgumentsDelta, ResponseOutputItemAdded, new_id

from ..runtime import Runtime
from ..speech.tools import SAY, arguments_schema, prefix_for
from .speaking import Emit
from .units import Response


class CallFailed(Exception):
    pass


async def decide(runtime: Runtime, response: Response, prefer_slot: int | None) -> tuple[str, int | None]:
    """The decision: `say` or a tool name (no model work when there is nothing to choose)."""
    options = response.options or [SAY]
    if len(options) == 1:
        return options[0], prefer_slot
    return await runtime.choose(response.messages, options, prefer_slot=prefer_slot)


def call_item(response: Response, status: str = "completed") -> FunctionCallItem:
    return FunctionCallItem(response.item_id, response.call_id or "", response.call_name or "",
                            response.arguments, status=status)


async def write_call(runtime: Runtime, response: Response, name: str, max_tokens: int, emit: Emit,
                     prefer_slot: int | None) -> int:
    """Make `response` the call of tool `name`; returns the LLM slot used."""
    tool = next(t for t in response.tools if t.name == name)
    response.call_name = name
    response.call_id = new_id("call")
    await emit(response, ResponseOutputItemAdded(response.id, call_item(response, "in_progress")))
    response.announced = True
    written: list[str] = []

    async def on_token(token: str) -> None:
        if response.first_token_at is None:
            response.first_token_at = time.monotonic()
        written.append(token)
        # The grammar puts one space before the JSON and allows one after it: deltas carry
        # neither, so that they add up to `arguments` exactly.
        text = "".join(written).strip()
        delta = text[len(response.arguments):]
        if delta:
            response.arguments = text
            await emit(response, ResponseFunctionCallArgumentsDelta(response.id, response.item_id,
                                                                     response.call_id, delta))

    slot = await runtime.generate(response.messages, max_tokens, on_token, prefer_slot=prefer_slot,
                                  prefix=prefix_for(name), schema=arguments_schema(tool))
    try:
        parsed = json.loads(response.arguments)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise CallFailed(f"the arguments of {name} were cut after {max_tokens} tokens: {response.arguments!r}")
    return slot
