"""The CPU queue shared by all sessions: at most `cpu_jobs` model jobs (one STT call, a few LLM
tokens, one TTS piece) run at once, and waiting jobs are served fairly across sessions.

Fair means round robin over the sessions that wait, first come first served within one session:
a session that floods the queue (audio sent faster than real time, many turns) waits behind its
own jobs, and another session's next job goes ahead of the flood's second one.

Urgent first, in three classes (`place(key, priority)`):
- URGENT: work towards the first audio of a caller who is waiting now (the turn's STT and its
  end-of-turn check, the answer's first tokens and its first sentence's TTS once the turn ended);
- AHEAD: the same work for an answer made ahead of its turn's end (speculation, while the caller's
  pause is held open: vad.unfinished_hold_ms / unclear_hold_ms): it has until the hold ends, the
  waiting caller has no time at all;
- LATER: later sentences and prompt prefills.
A job's class is fixed when it starts waiting: one queued AHEAD when its turn ends still waits
behind the urgent work of the moment (jobs are short: one TTS piece, 40 ms of tokens).
A freed place goes to a waiter of the first class that has one, so with several callers asking at
once each first sentence is out before anyone's second one is made (the second plays after the
first, which takes seconds to hear: it has time). Within each class the round robin above holds.
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

URGENT, AHEAD, LATER = 0, 1, 2


class FairLimiter:
    def __init__(self, total: int) -> None:
        self.total = total
        self.running = 0
        self._classes: tuple[Queue, ...] = (OrderedDict(), OrderedDict(), OrderedDict())  # by priority

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queues in self._classes for queue in queues.values())

    def waiting_in(self, priority: int) -> int:
        return sum(len(queue) for queue in self._classes[priority].values())

    @asynccontextmanager
    async def place(self, key: Hashable | None = None, priority: int = URGENT) -> AsyncIterator[None]:
        """Hold one of the `total` places for the duration of the block."""
        if self.running < self.total and not any(self._classes):
            self.running += 1
        else:
            granted = anyio.Event()
            queues = self._classes[priority]
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
        """Hand the freed place to the session of the first class with waiters that has waited
        longest since it was last served."""
        queues = next((queues for queues in self._classes if queues), None)
        if queues is None:
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
