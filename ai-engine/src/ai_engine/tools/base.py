"""The tool interface: what a tool is, what it may do to the call, and how a call runs one.

Contract:
  - `Tool.spec` is offered to the provider (each provider writes it in its own form: Realtime
    `tools`, Deepgram think `functions`, Gemini `functionDeclarations`).
  - `Tool.run(arguments, ctx)` is async, gets the model's arguments already parsed (a dict) and
    returns a JSON-able dict: what the model is told. It may raise `ToolFailed` with a message
    for the model; any other exception is a bug, logged, and the model is told the tool failed.
  - `ToolRegistry.execute` never raises (except cancellation): a bad arguments text, an unknown
    tool, a failing tool and one over its time bound all become `{"error": ...}` for the model,
    and the call goes on.
  - Tools act on the call only through `CallActions` (say a sentence, transfer, hang up), so a
    tool never touches ARI or the provider session itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from ..observability import metrics
from ..observability.logs import get_logger

log = get_logger(__name__)

MAX_ARGUMENTS_CHARS = 8192  # the model's arguments text, at most
MAX_OUTPUT_CHARS = 8192  # what goes back to the model, at most


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: `parameters` is a JSON schema of an object."""

    name: str
    description: str
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolFailed(Exception):
    """A tool could not do what was asked; the message is told to the model."""


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """The result of one call of a tool. `output` is given to the model; `respond` False when
    the engine itself speaks next (a farewell, a transfer announcement) instead of the model."""

    output: dict
    respond: bool = True

    def text(self) -> str:
        text = json.dumps(self.output, ensure_ascii=False, default=str)
        return text if len(text) <= MAX_OUTPUT_CHARS else json.dumps({"error": "tool output too large"})


class CallActions(Protocol):
    """What a tool may do to the call it runs in (implemented by calls/actions.py)."""

    caller_number: str
    call_id: str
    # The caller's last transcribed words before the model called the tool ("" when the provider
    # sends no transcript): a tool may use them besides the model's arguments (knowledge_base).
    caller_words: str

    async def say(self, text: str) -> None:
        """Speak `text` verbatim and return once the caller heard it (or it was interrupted)."""

    async def transfer(self, target: str) -> dict:
        """Transfer the caller to a named target; returns what happened (for the model)."""

    async def hangup(self, farewell: str | None) -> None:
        """Say the farewell, then end the call once the caller heard it."""


class Tool(Protocol):
    spec: ToolSpec
    # Optional: `timeout_s: float`, the tool's own bound when it must outlast the persona's
    # tool_timeout_s (an attended transfer rings for up to its answer_timeout_s).

    async def run(self, arguments: dict, ctx: CallActions) -> ToolOutcome:
        ...


class ToolRegistry:
    """The tools of one persona, by name; runs a call of one with its bound."""

    def __init__(self, tools: list[Tool], timeout_s: float):
        self.tools = {t.spec.name: t for t in tools}
        self.timeout_s = timeout_s

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(t.spec for t in self.tools.values())

    async def execute(self, name: str, arguments: str, ctx: CallActions) -> ToolOutcome:
        tool = self.tools.get(name)
        if tool is None:
            log.warning("tool.unknown", tool=name)
            return ToolOutcome({"error": f"there is no tool named {name!r}"})
        try:
            args = _parse_arguments(arguments)
        except ToolFailed as exc:
            log.warning("tool.bad_arguments", tool=name, error=str(exc))
            return ToolOutcome({"error": str(exc)})
        started = anyio.current_time()
        timeout = max(self.timeout_s, getattr(tool, "timeout_s", 0.0))
        outcome: ToolOutcome | None = None
        with anyio.move_on_after(timeout):
            try:
                outcome = await tool.run(args, ctx)
            except ToolFailed as exc:
                outcome = ToolOutcome({"error": str(exc)})
            except Exception as exc:  # a bug in a tool must not end the call
                log.exception("tool.crashed", tool=name)
                outcome = ToolOutcome({"error": f"the {name} tool failed ({type(exc).__name__})"})
        result = "ok" if outcome is not None and "error" not in outcome.output else "error" if outcome else "timeout"
        if outcome is None:
            outcome = ToolOutcome({"error": f"the {name} tool did not answer within {timeout:g} s"})
        metrics.TOOL_CALLS.labels(name, result).inc()
        metrics.TOOL_SECONDS.labels(name).observe(anyio.current_time() - started)
        log.info(
            "tool.called",
            tool=name,
            arguments=args,
            ok="error" not in outcome.output,
            error=outcome.output.get("error"),
            duration_s=round(anyio.current_time() - started, 3),
        )
        return outcome


def _parse_arguments(text: str) -> dict:
    if len(text) > MAX_ARGUMENTS_CHARS:
        raise ToolFailed("the arguments are too long")
    if not text.strip():
        return {}
    try:
        value: Any = json.loads(text)
    except ValueError:
        raise ToolFailed("the arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise ToolFailed("the arguments must be a JSON object")
    return value
