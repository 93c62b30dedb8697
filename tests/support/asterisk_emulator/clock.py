"""One media clock for the whole emulator: a tick every 20 ms on absolute deadlines.

Deadlines are ``t0 + n * 0.020`` on the loop's monotonic clock, so there is no drift; if the loop
was blocked for more than a few periods the missed ticks are skipped (as a real-time mixer
would), not bunched up. FACT 10: frames 20.0 ms apart (median).
"""
from __future__ import annotations

import asyncio
from typing import Callable

PERIOD = 0.020
MAX_LAG_TICKS = 5


class MediaClock:
    def __init__(self, loop: asyncio.AbstractEventLoop, on_tick: Callable[[float], None],
                 period: float = PERIOD, on_error: Callable[[BaseException], None] | None = None):
        self.loop = loop
        self.on_tick = on_tick
        self.on_error = on_error
        self.period = period
        self.ticks = 0
        self.skipped = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = self.loop.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        t0 = self.loop.time()
        n = 0
        while True:
            n += 1
            deadline = t0 + n * self.period
            delay = deadline - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > MAX_LAG_TICKS * self.period:
                behind = int(-delay / self.period)
                self.skipped += behind
                n += behind
                deadline = t0 + n * self.period
            self.ticks += 1
            try:
                self.on_tick(deadline)
            except Exception as exc:   # one bad tick must not stop the media clock
                if self.on_error is None:
                    raise
                self.on_error(exc)
