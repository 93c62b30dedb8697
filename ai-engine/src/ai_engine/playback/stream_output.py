"""Stream mode: agent audio as 20 ms AudioSocket frames on the call's playback leg (an
externalMedia `encapsulation=audiosocket` channel in the call bridge, DESIGN §2 step 6).

Frames leave at real-time pace from a monotonic clock (deadline n = start + n·20 ms, no drift),
silence when idle or on underrun, in the frame kind the leg negotiated. What Asterisk sends on
this leg (the caller and any file playback, snoop F22) is read and dropped: never recognised.
A send that fails or stalls raises `StreamFailed`; `FallbackOutput` then switches to files.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio

from ..audio.clock import Clock, MonotonicClock
from ..concurrency import single_error
from ..audio.pcm import Resampler
from ..observability import metrics
from ..observability.logs import get_logger
from ..transports.audiosocket import codec
from ..transports.audiosocket.connection import AudioSocketConnection
from .stream_buffer import Pacer, StreamBuffer

log = get_logger(__name__)
SEND_STALL_S = 1.0
RESET_LOG_EVERY_S = 10.0


class StreamFailed(Exception):
    pass


class StreamOutput:
    mode = "stream"

    def __init__(
        self,
        conn: AudioSocketConnection,
        kind: codec.Kind,
        start_ms: int = 60,
        max_lag_ms: int = 100,
        clock: Clock | None = None,
    ):
        self.conn = conn
        self.kind = kind
        self.rate = codec.AUDIO_RATES[kind]
        self._start_ms = start_ms
        self.buffer = StreamBuffer(self.rate, start_ms)
        self._max_lag_s = max_lag_ms / 1000
        self.clock = clock or MonotonicClock()
        self._resamplers: dict[int, Resampler] = {}
        self._stale: set[str] = set()
        self._talking_since: float | None = None
        self._last_response = ""
        self.on_first_audio: Callable[[], None] | None = None
        self.on_frame_sent: Callable[[bool], None] | None = None  # tests and benchmarks
        self.frames_sent = 0
        self.pacer: Pacer | None = None
        self._sending: tuple[bytes, bool, float] | None = None  # frame, is audio, since (anyio time)

    @property
    def talking(self) -> bool:
        return self.buffer.active

    @property
    def talking_since(self) -> float | None:
        return self._talking_since if self.buffer.active else None

    def audio(self, response_id: str, pcm: bytes, rate: int) -> None:
        if response_id in self._stale:
            return
        new_reply = response_id != self._last_response  # its first frame out is announced (turn timing)
        self._last_response = response_id
        resampler = self._resamplers.get(rate)
        if resampler is None:
            resampler = self._resamplers[rate] = Resampler(rate, self.rate)
        self.buffer.push(resampler.process(pcm), new_reply)

    def text_boundary(self, response_id: str) -> None:
        pass

    def response_done(self, response_id: str) -> None:
        if response_id == self._last_response:
            self.buffer.end_reply()

    async def stop(self, response_id: str | None) -> bool:
        if response_id is not None:
            self._stale.add(response_id)
        was_talking = self.buffer.active
        self.buffer.clear()  # the next 20 ms tick sends silence
        self._talking_since = None
        return was_talking

    def take_pending(self) -> tuple[str, bytes, int]:
        """What was queued but not yet sent (for the fall-back to files)."""
        pending = bytes(self.buffer._buf)  # noqa: SLF001 - same package
        self.buffer.clear()
        return self._last_response, pending, self.rate

    async def run(self) -> None:
        """Runs until cancelled; raises `StreamFailed` (not wrapped in a group) if the leg fails."""
        with single_error(StreamFailed):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._drain_inbound)
                tg.start_soon(self._watch_sends)
                await self._pace()

    async def _pace(self) -> None:
        clock = self.clock
        self.pacer = pacer = Pacer(clock.now(), 0.02, self._max_lag_s)
        logged_resets, logged_at = 0, -math.inf
        while True:
            frame, is_audio = self.buffer.next_frame()
            if is_audio and (self._talking_since is None or self.buffer.reply_began):
                if self._talking_since is None:
                    self._talking_since = clock.now()
                if self.on_first_audio is not None:
                    self.on_first_audio()
            elif not is_audio and not self.buffer.active:
                self._talking_since = None
            underruns = self.buffer.underruns
            self._sending = (frame, is_audio, anyio.current_time())
            try:
                await self.conn.send_audio(frame, self.kind)
            except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                self._give_back_in_flight()
                raise StreamFailed(f"playback leg send failed: {exc!r}") from None
            self._sending = None
            self.frames_sent += 1
            if self.buffer.underruns != underruns:
                metrics.UNDERRUNS.inc()
            if self.on_frame_sent is not None:
                self.on_frame_sent(is_audio)
            now = clock.now()
            behind = now - pacer.deadline - pacer.frame_s
            deadline = pacer.advance(now)
            if pacer.resets != logged_resets and now - logged_at >= RESET_LOG_EVERY_S:
                # At most one line per stream per period: an overloaded engine resets every
                # stream on every frame, and a log line each would only add to the load.
                log.warning("stream.pacing_reset", behind_s=round(behind, 3), resets=pacer.resets - logged_resets)
                logged_resets, logged_at = pacer.resets, now
            await clock.sleep_until(deadline)

    async def _watch_sends(self) -> None:
        """A send still pending after SEND_STALL_S (the leg stopped reading) fails the stream.
        Checked twice per bound instead of a timeout around every send: a timer per 20 ms frame
        was a large share of the engine's CPU per call (bench/media_load.py)."""
        while True:
            await anyio.sleep(SEND_STALL_S / 2)
            sending = self._sending
            if sending is not None and anyio.current_time() - sending[2] >= SEND_STALL_S:
                self._give_back_in_flight()
                raise StreamFailed(f"playback leg send stalled for {SEND_STALL_S} s")

    def _give_back_in_flight(self) -> None:
        sending, self._sending = self._sending, None
        if sending is not None and sending[1]:
            self.buffer.unread(sending[0])  # not heard: it goes to the file fall-back

    async def _drain_inbound(self) -> None:
        """Read and drop what Asterisk sends on this leg; adopt its frame kind if it differs."""
        while True:
            try:
                event = await self.conn.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                raise StreamFailed("playback leg closed") from None
            except codec.ProtocolError as exc:
                raise StreamFailed(f"playback leg sent a malformed frame: {exc}") from None
            if isinstance(event, codec.Audio) and event.kind != self.kind and not self.buffer.active:
                log.warning("stream.kind_changed", requested=hex(self.kind), negotiated=hex(event.kind))
                self.kind, self.rate = event.kind, event.rate
                self.buffer = StreamBuffer(self.rate, self._start_ms)
                self._resamplers.clear()
            elif isinstance(event, codec.Hangup):
                raise StreamFailed("playback leg hung up")

    async def close(self) -> None:
        await self.stop(None)
