"""The CPU queue shared by all sessions: at most `cpu_jobs` model jobs (one STT call, a few LLM
tokens, one TTS piece) run at once, and waiting jobs are served fairly across sessions.

Fair means round robin over the sessions that wait, first come first served within one session:
a session that floods the queue (audio sent faster than real time, many turns) waits behind its
own jobs, and another session's next job goes ahead of the flood's second one.

Urgent first: a job is urgent while it works towards a caller's first audio (the turn's STT, the
answer's first tokens and its first sentence's TTS); later sentences and prompt prefills are not.
A freed place goes to an urgent waiter before any other, so with several callers asking at once
each first sentence is out before anyone's second one is made (the second plays after the first,
which takes seconds to hear: it has time). Within each class the round robin above holds.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from contextvars import ContextVar

import anyio

# Whose job this is; set by each session for its task group (tasks inherit it).
QUEUE_KEY: ContextVar[Hashable | None] = ContextVar("local_ai_cpu_queue_key", default=None)

Queue = OrderedDict[Hashable | None, deque[anyio.Event]]


class FairLimiter:
    def __init__(self, total: int) -> None:
        self.total = total
        self.running = 0
        self._urgent: Queue = OrderedDict()
        self._later: Queue = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queues in (self._urgent, self._later) for queue in queues.values())

    @property
    def waiting_urgent(self) -> int:
        return sum(len(queue) for queue in self._urgent.values())

    @asynccontextmanager
    async def place(self, key: Hashable | None = None, urgent: bool = True) -> AsyncIterator[None]:
        """Hold one of the `total` places for the duration of the block."""
        if self.running < self.total and not self._urgent and not self._later:
            self.running += 1
        else:
            granted = anyio.Event()
            queues = self._urgent if urgent else self._later
            queues.setdefault(key, deque()).append(granted)
            try:
                await granted.wait()
            except BaseException:
                if granted.is_set():  # handed a place just as we were cancelled: pass it on
                    self._release()
                else:
                    self._forget(queues, key, granted)
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        """Hand the freed place to the urgent session waiting longest since it was last served,
        else to the longest-waiting other one."""
        queues = self._urgent or self._later
        if not queues:
            self.running -= 1
            return
        key, queue = queues.popitem(last=False)
        granted = queue.popleft()
        if queue:
            queues[key] = queue  # to the back of the round
        granted.set()  # `running` is unchanged: the place goes straight to the waiter

    @staticmethod
    def _forget(queues: Queue, key: Hashable | None, granted: anyio.Event) -> None:
        queue = queues.get(key)
        if queue is not None:
            queue.remove(granted)
            if not queue:
                del queues[key]
