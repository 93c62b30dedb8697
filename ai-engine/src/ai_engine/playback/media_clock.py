"""The engine's one media clock: a single task that paces every stream-mode playback leg and
keeps every capture leg alive.

Pacing: every 20 ms, on absolute deadlines (deadline n = start + n·20 ms, no drift), each
registered stream output is asked for exactly one frame, which it writes at once (sync). All
calls' frames leave at the same tick; each leg's frames are 20 ms apart as its receiver sees
them. When the loop falls behind by more than `max_lag_s` the schedule restarts from now:
never a burst (Asterisk does not buffer, docs/architecture.md §3). One timer for the whole engine instead of
one per call: that was most of a call's cost (bench/media_load.py).

Housekeeping, a few times per keepalive interval: a capture leg that nothing crossed for
`keepalive_s` gets a 20 ms silence frame (Asterisk hangs a leg up after 2 s without a frame
in either direction); one that received nothing for `read_timeout_s` is ended ("timeout").

Calls register what they own when their conversation starts and unregister in `finally`, so a
hang-up (a cancellation) still cleans up. The clock sleeps while nothing is registered.
"""

from __future__ import annotations

import math
from typing import Protocol

import anyio

from ..audio.clock import Clock, MonotonicClock
from ..observability import metrics
from ..observability.logs import get_logger
from ..transports.audiosocket.connection import AudioSocketConnection, EndKind, LegEnd
from .stream_buffer import Pacer

log = get_logger(__name__)

FRAME_S = 0.02
RESET_LOG_EVERY_S = 10.0


class Paced(Protocol):
    def tick(self, now: float) -> bool:
        """Send this tick's frame (never blocks); True if a frame was written."""


class MediaClock:
    def __init__(
        self,
        *,
        max_lag_s: float = 0.1,
        keepalive_s: float = 0.5,
        read_timeout_s: float = 5.0,
        clock: Clock | None = None,
        frame_s: float = FRAME_S,
    ):
        self.clock = clock or MonotonicClock()
        self.frame_s = frame_s
        self.max_lag_s = max_lag_s
        self.keepalive_s = keepalive_s
        self.read_timeout_s = read_timeout_s
        self.housekeeping_s = min(0.1, keepalive_s / 4)
        self._streams: dict[Paced, None] = {}  # insertion-ordered: the same order every tick
        self._stream_list: tuple[Paced, ...] = ()
        self._legs: dict[AudioSocketConnection, None] = {}
        self._streams_changed = anyio.Event()
        self._legs_changed = anyio.Event()
        self.pacer: Pacer | None = None
        self.ticks = 0
        self.resets = 0
        self._unlogged_resets = 0
        self._logged_at = -math.inf

    # ---- registration (sync, from any task of the loop) ---------------------------------

    def add_stream(self, stream: Paced) -> None:
        self._streams[stream] = None
        self._stream_list = tuple(self._streams)
        self._streams_changed.set()

    def remove_stream(self, stream: Paced) -> None:
        if self._streams.pop(stream, 0) is None:
            self._stream_list = tuple(self._streams)

    def add_leg(self, conn: AudioSocketConnection) -> None:
        """Keepalive and read timeout for a capture leg (its owner hears a timeout via on_close)."""
        self._legs[conn] = None
        self._legs_changed.set()

    def remove_leg(self, conn: AudioSocketConnection) -> None:
        self._legs.pop(conn, None)

    @property
    def streams(self) -> int:
        return len(self._streams)

    # ---- the clock ----------------------------------------------------------------------

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._housekeeping)
            await self._pace()

    async def _pace(self) -> None:
        clock = self.clock
        while True:
            if not self._stream_list:
                self.pacer = None  # nothing of a finished call stays referenced while idle
                self._streams_changed = anyio.Event()
                await self._streams_changed.wait()
            self.pacer = Pacer(clock.now(), self.frame_s, self.max_lag_s)
            while self._stream_list:
                self._tick(clock.now())
                await clock.sleep_until(self._advance(clock.now()))

    def _tick(self, now: float) -> None:
        sent = 0
        for stream in self._stream_list:
            try:
                sent += stream.tick(now)
            except Exception:  # a bug in one call's stream must not stop every other call's
                log.exception("stream.tick_failed")
                self.remove_stream(stream)
        if sent:
            metrics.FRAMES_OUT.inc(sent)
        self.ticks += 1

    def _advance(self, now: float) -> float:
        pacer = self.pacer
        assert pacer is not None
        behind = now - pacer.deadline - pacer.frame_s
        metrics.MEDIA_CLOCK_LAG_SECONDS.observe(max(0.0, now - pacer.deadline))
        resets = pacer.resets
        deadline = pacer.advance(now)
        if pacer.resets != resets:
            metrics.MEDIA_CLOCK_RESETS.inc()
            self.resets += 1
            self._unlogged_resets += 1
            if now - self._logged_at >= RESET_LOG_EVERY_S:
                # At most one line per period: an overloaded engine resets on every tick.
                log.warning("stream.pacing_reset", behind_s=round(behind, 3), resets=self._unlogged_resets)
                self._unlogged_resets, self._logged_at = 0, now
        return deadline

    async def _housekeeping(self) -> None:
        while True:
            if not self._legs:
                self._legs_changed = anyio.Event()
                await self._legs_changed.wait()
            await anyio.sleep(self.housekeeping_s)
            self.check_legs(anyio.current_time())

    def check_legs(self, now: float) -> None:
        """Keepalive silence for idle legs; end the legs that received nothing for the read timeout."""
        keepalive_before = now - self.keepalive_s
        dead_before = now - self.read_timeout_s
        sent = 0
        dead = []
        for conn in self._legs:
            if conn.last_received <= dead_before:
                dead.append(conn)
            elif conn.last_activity <= keepalive_before and not conn.closed:
                conn.send_audio(conn.silence_frame())
                sent += 1
        if sent:
            metrics.FRAMES_OUT.inc(sent)
        for conn in dead:
            self._legs.pop(conn, None)
            conn.end(LegEnd(EndKind.TIMEOUT))
