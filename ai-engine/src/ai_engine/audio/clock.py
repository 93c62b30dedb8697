"""Clocks for paced audio: the real monotonic clock, and a fake one tests can run a minute on
in milliseconds."""

from __future__ import annotations

from typing import Protocol

import anyio


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...


class MonotonicClock:
    def now(self) -> float:
        return anyio.current_time()

    async def sleep_until(self, deadline: float) -> None:
        await anyio.sleep(max(0.0, deadline - anyio.current_time()))


class FakeClock:
    """Virtual time: `sleep_until` jumps straight to the deadline (optionally plus a jitter)."""

    def __init__(self, start: float = 0.0):
        self.t = start
        self.lag_next = 0.0  # extra delay on the next wake-up (simulates a stalled loop)

    def now(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        self.t = max(self.t, deadline) + self.lag_next
        self.lag_next = 0.0
        await anyio.lowlevel.checkpoint()
