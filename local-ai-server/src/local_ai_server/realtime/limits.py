"""Bounds on what one client may send: caller audio at most `rate` x real time (plus a burst).

A token bucket counted in audio milliseconds, with the clock injected (tests run it on a fake
clock). Audio over the bound is refused, not queued: a client sending faster than real time would
otherwise queue turns (and CPU work) without end.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class AudioRateLimit:
    def __init__(self, rate: float, burst_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst_ms = burst_ms
        self._clock = clock
        self._allowance_ms = float(burst_ms) + 1000.0  # a full bucket holds the burst and one second
        self._capacity_ms = self._allowance_ms
        self._last = clock()
        self._reported_at: float | None = None

    def admit(self, audio_ms: float) -> bool:
        now = self._clock()
        self._allowance_ms = min(self._capacity_ms, self._allowance_ms + (now - self._last) * 1000 * self.rate)
        self._last = now
        if audio_ms > self._allowance_ms:
            return False
        self._allowance_ms -= audio_ms
        return True

    def report_due(self, every_s: float = 1.0) -> bool:
        """Whether a refusal should be reported now: at most one error event per `every_s` (a
        flood of refused appends must not become a flood of error events)."""
        now = self._clock()
        if self._reported_at is not None and now - self._reported_at < every_s:
            return False
        self._reported_at = now
        return True
