"""The CPU queue shared by all sessions: at most `cpu_jobs` model jobs (one STT call, one LLM token
step, one TTS piece) run at once, and waiting jobs are served fairly across sessions.

Fair means round robin over the sessions that wait, first come first served within one session:
a session that floods the queue (audio sent faster than real time, many turns) waits behind its
own jobs, and another session's next job goes ahead of the flood's second one.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from contextvars import ContextVar

import anyio

# Whose job this is; set by each session for its task group (tasks inherit it).
QUEUE_KEY: ContextVar[Hashable | None] = ContextVar("local_ai_cpu_queue_key", default=None)


class FairLimiter:
    def __init__(self, total: int) -> None:
        self.total = total
        self.running = 0
        self._waiting: OrderedDict[Hashable | None, deque[anyio.Event]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    @asynccontextmanager
    async def place(self, key: Hashable | None = None) -> AsyncIterator[None]:
        """Hold one of the `total` places for the duration of the block."""
        if self.running < self.total and not self._waiting:
            self.running += 1
        else:
            granted = anyio.Event()
            self._waiting.setdefault(key, deque()).append(granted)
            try:
                await granted.wait()
            except BaseException:
                if granted.is_set():  # handed a place just as we were cancelled: pass it on
                    self._release()
                else:
                    self._forget(key, granted)
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        """Hand the freed place to the session waiting longest since it was last served."""
        if not self._waiting:
            self.running -= 1
            return
        key, queue = self._waiting.popitem(last=False)
        granted = queue.popleft()
        if queue:
            self._waiting[key] = queue  # to the back of the round
        granted.set()  # `running` is unchanged: the place goes straight to the waiter

    def _forget(self, key: Hashable | None, granted: anyio.Event) -> None:
        queue = self._waiting.get(key)
        if queue is not None:
            queue.remove(granted)
            if not queue:
                del self._waiting[key]
