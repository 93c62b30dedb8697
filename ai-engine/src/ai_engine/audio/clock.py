"""Clocks for paced audio: the interface and the real monotonic clock (tests inject a fake one,
tests/support/fake_clock.py, and run a minute of pacing in milliseconds)."""

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
