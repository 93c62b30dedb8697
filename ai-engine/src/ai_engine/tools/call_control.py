"""The built-in tools that act on the call itself: `transfer` (to a named target of the
persona) and `hangup` (a farewell, then the end of the call)."""

from __future__ import annotations

from collections.abc import Mapping

from .base import CallActions, ToolFailed, ToolOutcome, ToolSpec
from .settings import TransferTarget


SPEAK_ALLOWANCE_S = 70.0  # the words before the transfer and the announcement (speech_tracker bounds it at 60 s)


class TransferTool:
    def __init__(self, targets: Mapping[str, TransferTarget]):
        self.targets = dict(targets)
        self.timeout_s = SPEAK_ALLOWANCE_S + max((t.answer_timeout_s for t in self.targets.values() if t.mode == "attended"), default=0.0)
        names = sorted(self.targets)
        listed = "; ".join(f"{n}: {t.description}" if t.description else n for n, t in sorted(self.targets.items()))
        self.spec = ToolSpec(
            "transfer",
            "Transfer the caller to a person or department when they ask for a human or for something you "
            f"cannot do. Targets: {listed}.",
            {
                "type": "object",
                "properties": {"target": {"type": "string", "enum": names, "description": "Where to transfer the caller."}},
                "required": ["target"],
            },
        )

    async def run(self, arguments: dict, ctx: CallActions) -> ToolOutcome:
        target = arguments.get("target")
        if not isinstance(target, str) or target not in self.targets:
            raise ToolFailed(f"unknown transfer target {target!r}; known: {', '.join(sorted(self.targets))}")
        result = await ctx.transfer(target)
        # A blind transfer, or an answered attended one, ends the agent's part: nothing to say.
        return ToolOutcome(result, respond=not result.get("transferred", False))


class HangupTool:
    timeout_s = SPEAK_ALLOWANCE_S  # the farewell must be heard whole

    def __init__(self, farewell: str):
        self.farewell = farewell
        self.spec = ToolSpec(
            "hangup",
            "End the call when the caller says goodbye or the conversation is over. The farewell is said first.",
            {
                "type": "object",
                "properties": {"farewell": {"type": "string", "description": "A short goodbye sentence said before hanging up."}},
            },
        )

    async def run(self, arguments: dict, ctx: CallActions) -> ToolOutcome:
        farewell = arguments.get("farewell")
        text = farewell.strip() if isinstance(farewell, str) and farewell.strip() else self.farewell
        await ctx.hangup(text[:500])
        return ToolOutcome({"hung_up": True}, respond=False)
