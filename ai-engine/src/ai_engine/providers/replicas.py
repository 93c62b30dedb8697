"""Several local-ai-server replicas behind one provider (`providers.<name>.replicas`).

Each replica is a `RealtimeProvider` of its own (same settings, its own `url`/`health_url`). A new
call's session goes to the replica with the fewest open sessions among those that are usable (health
check passed, no failed connect in the last `replica_retry_s`), ties broken in turn so equal
replicas share the calls. A replica whose connect fails is marked down and the next one is tried at
once, so a dead replica costs a call one connect attempt, not the call; with every replica down the
call gets `ProviderUnavailable` like a single provider (the hold prompt and its reconnects). A session
stays on its replica for its whole life (the conversation lives there).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio

from ..config import ProviderSettings
from ..observability import metrics
from ..observability.logs import get_logger
from . import base
from .realtime import RealtimeProvider, RealtimeSession

log = get_logger(__name__)


class ReplicatedProvider:
    def __init__(self, name: str, settings: ProviderSettings):
        self.name = name
        self.settings = settings
        self.replicas = [
            RealtimeProvider(name, settings.model_copy(update={"url": r.url, "health_url": r.health_url, "replicas": []}))
            for r in settings.replicas
        ]
        self.active = [0] * len(self.replicas)
        self._down_until = [float("-inf")] * len(self.replicas)
        self._healthy = [True] * len(self.replicas)
        self._turn = 0

    @property
    def not_ready_reason(self) -> str | None:
        down = [r.settings.url for r, ok in zip(self.replicas, self._healthy) if not ok]
        return f"replicas not ready: {', '.join(down)}" if down else None

    async def ready(self) -> bool:
        """Ready while at least one replica is (each replica's check is cached for 2 s, 1 s bound)."""
        async def check(i: int) -> None:
            self._healthy[i] = await self.replicas[i].ready()

        async with anyio.create_task_group() as tg:
            for i in range(len(self.replicas)):
                tg.start_soon(check, i)
        return any(self._healthy)

    def order(self, now: float) -> list[int]:
        """Replicas to try for a new session, best first: usable ones by open sessions (ties in
        turn), then the ones marked down (a last resort, so a recovered replica is found)."""
        n = len(self.replicas)
        start = self._turn % n
        self._turn += 1
        rotation = [(start + k) % n for k in range(n)]
        usable = [i for i in rotation if self._healthy[i] and self._down_until[i] <= now]
        usable.sort(key=lambda i: self.active[i])  # stable: equal loads keep the rotation
        return usable + [i for i in rotation if i not in usable]

    @asynccontextmanager
    async def session(self, options: base.SessionOptions) -> AsyncIterator[RealtimeSession]:
        await self.ready()
        errors: list[str] = []
        async with AsyncExitStack() as stack:
            for i in self.order(anyio.current_time()):
                try:
                    session = await stack.enter_async_context(self.replicas[i].session(options))
                except base.ProviderUnavailable as exc:
                    self._down_until[i] = anyio.current_time() + self.settings.replica_retry_s
                    metrics.PROVIDER_ERRORS.labels(self.name, "replica_down").inc()
                    log.warning("provider.replica_down", provider=self.name, replica=self.replicas[i].settings.url,
                                call_id=options.call_id, error=str(exc))
                    errors.append(str(exc))
                    continue
                self._down_until[i] = float("-inf")
                self.active[i] += 1
                log.info("provider.replica_chosen", provider=self.name, replica=self.replicas[i].settings.url,
                         call_id=options.call_id, sessions=self.active[i])
                try:
                    yield session
                finally:
                    self.active[i] -= 1
                return
        raise base.ProviderUnavailable(f"{self.name}: no replica reachable: {'; '.join(errors)}")
