"""Prefill: warm this session's LLM context with the prompt the next turn will extend.

It runs while the caller speaks; a response waits for it (its context then holds most of the
response's prompt) and goes back to the same LLM slot. Only an optimisation: a failure is logged
and never becomes the call's problem.
"""

from __future__ import annotations

import anyio
import structlog
from anyio.abc import TaskGroup

from ..runtime import Runtime

log = structlog.get_logger("local_ai_server.session")


class Prefill:
    def __init__(self, tg: TaskGroup, runtime: Runtime, enabled: bool) -> None:
        self._tg = tg
        self._runtime = runtime
        self._enabled = enabled
        self._scope: anyio.CancelScope | None = None
        self._done: anyio.Event | None = None
        self.slot: int | None = None  # the LLM slot whose cache holds this session's prompt

    def schedule(self, messages: list[dict]) -> None:
        """Start a prefill of `messages` (replaces any prefill still waiting)."""
        if not self._enabled:
            return
        if self._scope is not None:
            self._scope.cancel()
        scope = self._scope = anyio.CancelScope()
        done = self._done = anyio.Event()

        async def prefill() -> None:
            try:
                with scope:
                    self.slot = await self._runtime.prefill(messages, prefer_slot=self.slot)
            except Exception as exc:
                log.warning("llm.prefill_failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                done.set()

        self._tg.start_soon(prefill)

    async def wait(self) -> None:
        if self._done is not None:
            await self._done.wait()
