"""The calling party of an inbound call: what it says, what it hears, its DTMF and hang-up.

A :class:`Call` is the pair ``Local/<exten>@<stasis context>-xxxxxxxx;1`` (``phone``, the
caller's own end, never in Stasis) and ``...;2`` (``channel``, runs ``Stasis(app,args)``,
arrives in state Ring: FACT 2), exactly like the recordings' caller.

Speech is sent one 20 ms frame per clock tick (real-time pace). When the caller is not speaking
it sends frames of zeros (``silence="zeros"``, like the recordings' ``Playback(silence5)``) or
nothing at all (``silence="none"``, a phone with silence suppression: FACT 15's gaps). While DTMF
is being sent no audio is sent (FACT 15: the ~820 ms gap during ``SendDTMF``).
"""
from __future__ import annotations

import asyncio

import numpy as np

from .media import from_bytes
from .model import SAMPLES_PER_TICK

FRAME = SAMPLES_PER_TICK


class Call:
    def __init__(self, pbx, phone, channel, silence: str = "zeros"):
        self._pbx = pbx
        self.phone = phone
        self.channel = channel
        self.channel_id: str = channel.id
        self.stasis_status: str | None = None   # "SUCCESS" once in Stasis, "FAILED" if refused
        self.silence = silence
        self.hangup_cause: int | None = None
        self.t_answered: float | None = None
        self._answered = asyncio.Event()
        self._stasis_decided = asyncio.Event()
        self._ended = asyncio.Event()
        self._speech = np.zeros(0, dtype=np.int16)
        self._sent = 0           # samples of speech sent so far
        self._queued = 0         # samples of speech queued so far
        self._speech_waiters: list[tuple[int, asyncio.Future]] = []
        self._dtmf_busy = False
        self._heard: list[np.ndarray] = []
        self._heard_t: list[float] = []

    # ---- state
    @property
    def answered(self) -> bool:
        return self._answered.is_set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def wait_answered(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._answered.wait(), timeout)

    async def wait_ended(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._ended.wait(), timeout)

    async def wait_stasis(self, timeout: float = 5.0) -> str:
        """Wait until Stasis() accepted (``SUCCESS``) or refused (``FAILED``) the call."""
        await asyncio.wait_for(self._stasis_decided.wait(), timeout)
        return self.stasis_status

    # ---- caller actions
    async def say(self, pcm8k: bytes, wait: bool = True) -> None:
        """Speak 8 kHz s16le audio, streamed at real-time pace in 20 ms frames. With ``wait``
        (default) return once the last frame has been sent."""
        samples = from_bytes(pcm8k)
        self._speech = np.concatenate([self._speech, samples])
        self._queued += len(samples)
        if not wait:
            return
        fut = asyncio.get_running_loop().create_future()
        self._speech_waiters.append((self._queued, fut))
        self._check_speech_waiters()
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({fut, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()

    async def send_dtmf(self, digits: str, duration_ms: int = 100, gap_ms: int = 250) -> None:
        """Send DTMF like ``SendDTMF``: no audio meanwhile; each digit is reported at its end
        (ChannelDtmfReceived for the caller, and 0x03 frames on legs sharing its bridge:
        FACT 17, 44, snoop F16-F17)."""
        self._dtmf_busy = True
        try:
            for i, digit in enumerate(digits):
                if self.ended:
                    return
                await asyncio.sleep(duration_ms / 1000)
                self._pbx.caller_dtmf(self, digit, duration_ms)
                if i < len(digits) - 1:
                    await asyncio.sleep(gap_ms / 1000)
        finally:
            self._dtmf_busy = False

    async def hangup(self, timeout: float = 5.0) -> None:
        """The caller hangs up (FACT 28, snoop F25)."""
        if not self.ended:
            self._pbx.caller_hangup(self, cause=16, soft=False)
        await self.wait_ended(timeout)

    # ---- what was heard
    def heard_pcm(self) -> bytes:
        """What the caller heard since it was answered: 8 kHz s16le, zeros where nothing."""
        if not self._heard:
            return b""
        return np.concatenate(self._heard).astype("<i2").tobytes()

    def heard_times(self) -> np.ndarray:
        """The emulator time (``loop.time()``) of each 20 ms frame in ``heard_pcm()``. When the
        mixer was late it skips ticks (as a real-time mixer does), so a frame's index times
        20 ms drifts from its time: use these."""
        return np.asarray(self._heard_t, dtype=np.float64)

    def heard_between(self, t0: float, t1: float) -> bytes:
        """What the caller heard in the frames timed from ``t0`` (inclusive) to ``t1``."""
        times = self.heard_times()
        a, b = np.searchsorted(times, [t0, t1])
        if a >= b:
            return b""
        return np.concatenate(self._heard[a:b]).astype("<i2").tobytes()

    def heard_segments(self, threshold: int = 0, min_gap: float = 0.0) -> list[tuple[float, float]]:
        """(t_start, t_end) of heard audio whose peak exceeds ``threshold``, in the emulator's
        clock (``loop.time()``, the same as ``event_log``/``rest_log``). Segments closer than
        ``min_gap`` seconds are merged."""
        segs: list[list[float]] = []
        for t, frame in zip(self._heard_t, self._heard):
            if int(np.abs(frame.astype(np.int32)).max()) > threshold:
                if segs and t - segs[-1][1] <= min_gap + 1e-6:
                    segs[-1][1] = t + 0.02
                else:
                    segs.append([t, t + 0.02])
        return [(a, b) for a, b in segs]

    # ---- used by the emulator
    def _mark_answered(self, t: float) -> None:
        if not self._answered.is_set():
            self.t_answered = t
            self._answered.set()

    def _mark_stasis(self, status: str) -> None:
        self.stasis_status = status
        self._stasis_decided.set()

    def _mark_ended(self, cause: int) -> None:
        if not self._ended.is_set():
            self.hangup_cause = cause
            self._ended.set()
            for _, fut in self._speech_waiters:
                if not fut.done():
                    fut.cancel()

    def _next_voice(self) -> np.ndarray | None:
        """The frame the caller sends this tick, or None when it sends nothing."""
        if self._dtmf_busy:
            return None
        if len(self._speech):
            frame = self._speech[:FRAME]
            self._speech = self._speech[FRAME:]
            self._sent += len(frame)
            if len(frame) < FRAME:
                frame = np.concatenate([frame, np.zeros(FRAME - len(frame), np.int16)])
            self._check_speech_waiters()
            return frame
        if self.silence == "zeros":
            return np.zeros(FRAME, dtype=np.int16)
        return None

    def _check_speech_waiters(self) -> None:
        for target, fut in self._speech_waiters:
            if self._sent >= target and not fut.done():
                fut.set_result(None)
        self._speech_waiters = [(t, f) for t, f in self._speech_waiters if not f.done()]

    def _record_heard(self, t: float, frame: np.ndarray | None) -> None:
        self._heard_t.append(t)
        self._heard.append(frame if frame is not None else np.zeros(FRAME, dtype=np.int16))
