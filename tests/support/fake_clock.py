"""Virtual time for the engine's pacing code (`ai_engine.audio.clock.Clock`): a minute of 20 ms
ticks runs in milliseconds, and a stalled event loop is one attribute away."""

from __future__ import annotations

import anyio


class FakeClock:
    """`sleep_until` jumps straight to the deadline (plus `lag_next` once: a stalled loop)."""

    def __init__(self, start: float = 0.0):
        self.t = start
        self.lag_next = 0.0  # extra delay on the next wake-up (simulates a stalled loop)

    def now(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        self.t = max(self.t, deadline) + self.lag_next
        self.lag_next = 0.0
        await anyio.lowlevel.checkpoint()
