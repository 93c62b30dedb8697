"""A lean Asterisk for load benchmarks: the test emulator's control plane with a cheap media plane.

Why: the full emulator (tests/support/asterisk_emulator) mixes every bridge in Python (numpy) every 20 ms
and logs every AudioSocket frame with its payload; at a few hundred calls that, not the engine,
is the bottleneck (bench/media_load.py measures it with `--generator full`).

What is kept (the engine sees the same protocols and event sequences): the emulator's ARI REST,
events WebSocket and Swagger declarations, its channels, bridges, snoops, Local forks running
AudioSocket() in the dialplan and externalMedia legs (`Pbx`, unchanged).
What is replaced: the 20 ms tick. Instead of mixing, every caller's frame goes straight to the
AudioSocket legs that would hear it (the capture leg behind its snoop, and any leg in the caller's
bridge, e.g. the stream-mode playback leg), and the callers are spread over `phases` sub-ticks of
the 20 ms period, as real channels each run on their own timing. Legs are asyncio Protocols that
parse frames without logging them and timestamp what the engine sends into the caller's bridge
on receipt. externalMedia RTP and chan_websocket legs are lean too (bench/load_media_legs.py).
Not emulated: the Local fork's 2 s inactivity timeout, DTMF, playbacks' audio, and rates other
than slin (8 kHz).

Each caller frame carries a marker and a sequence number in its first 6 bytes (the rest is a
400 Hz tone), so an echoed frame tells which caller frame it was: loss and latency.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import uuid as uuidlib
from array import array
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from asterisk_emulator import AsteriskEmulator  # noqa: E402
from asterisk_emulator.audiosocket_client import AudioSocketLeg  # noqa: E402
from asterisk_emulator.clock import PERIOD, MediaClock  # noqa: E402
from asterisk_emulator.pbx import Pbx  # noqa: E402
from asterisk_emulator.rest import RestApi  # noqa: E402

MAGIC = b"\x5a\x7e"
RING = 1024  # send times kept per caller (20 s of frames)
AUDIO_HEADER = bytes([0x10]) + (320).to_bytes(2, "big")
_TONE = (4000 * np.sin(2 * np.pi * 400 * np.arange(160) / 8000)).astype("<i2").tobytes()
TONE_TAIL = _TONE[6:]


def caller_frame(seq: int) -> bytes:
    """One 20 ms slin payload: marker, sequence number, tone."""
    return MAGIC + (seq & 0xFFFFFFFF).to_bytes(4, "little") + TONE_TAIL


def frame_seq(payload: bytes) -> int | None:
    return int.from_bytes(payload[2:6], "little") if payload[:2] == MAGIC else None


class Recorder:
    """What the engine's frames into the callers' bridges looked like on receipt."""

    def __init__(self) -> None:
        self.measuring = False
        self.reset()

    def reset(self) -> None:
        self.deviation = array("d")  # |inter-arrival - 20 ms| per frame, seconds
        self.latency = array("d")  # caller frame sent -> its echo received, seconds
        self.tick_lag = array("d")  # how late the generator's own sub-ticks ran
        self.late_at = array("d")  # receipt times of late frames (clustered = a stall of everything)
        self.frames = self.late = self.lost = self.silent = 0

    def start(self) -> None:
        self.reset()
        self.measuring = True

    def stop(self) -> None:
        self.measuring = False


class LeanCaller:
    """The voice of one emulated caller: a numbered frame per 20 ms to every leg that hears it."""

    __slots__ = ("call", "seq", "sent", "legs", "echoing")

    def __init__(self, call) -> None:
        self.call = call
        self.seq = 0
        self.sent = array("d", bytes(8 * RING))
        self.legs: list[LeanLeg] = []
        self.echoing = asyncio.Event()  # the first echoed frame came back on a bridge leg

    def send(self, now: float) -> None:
        seq = self.seq
        self.seq = seq + 1
        self.sent[seq % RING] = now
        frame = caller_frame(seq)
        for leg in self.legs:
            if leg.open:
                leg.push(frame)


class LeanLeg(AudioSocketLeg, asyncio.Protocol):
    """Asterisk's end of one AudioSocket connection, as an asyncio Protocol."""

    def __init__(self, *args, pbx: LeanPbx, **kwargs):
        super().__init__(*args, **kwargs)
        if self.rate != 8000:
            raise ValueError("the lean generator emulates slin (8 kHz) legs only")
        self.pbx = pbx
        self.transport: asyncio.Transport | None = None
        self.open = False  # connected, and neither side has closed it
        self._buf = bytearray()
        self._done: asyncio.Future[str] = self.loop.create_future()
        self.source: LeanCaller | None = None
        self.hears_bridge = False  # in the caller's own bridge: what it receives goes to the caller
        self.last_rx: float | None = None
        self.next_seq: int | None = None

    async def connect(self, timeout: float = 2.0) -> bool:
        try:
            await asyncio.wait_for(self.loop.create_connection(lambda: self, self.host, self.port), timeout)
        except (OSError, asyncio.TimeoutError):
            self.closed = True
            self.log.end_reason = "refused"
            return False
        self.log.t_connect = self.loop.time()
        self._write(0x01, uuidlib.UUID(self.uuid).bytes)  # FACT 9
        self.pbx.unresolved.append(self)
        return True

    def connection_made(self, transport) -> None:
        self.transport, self.open = transport, True

    def push(self, payload: bytes) -> None:
        """One caller frame to the engine."""
        self.transport.write(AUDIO_HEADER + payload)

    def _write(self, kind: int, payload: bytes) -> None:
        if self.open:
            self.transport.write(bytes([kind]) + len(payload).to_bytes(2, "big") + payload)

    def close(self, reason: str = "hangup") -> None:
        super().close(reason)
        if self.open:
            self.open = False
            self.transport.close()
        self._finish("hangup")

    async def run(self) -> str:
        return await self._done

    def _finish(self, reason: str) -> None:
        if not self._done.done():
            self._done.set_result(reason)

    def connection_lost(self, exc) -> None:
        self.open = False
        if not self.closed:  # the engine closed it: AudioSocket() returns (FACT 35)
            self.log.closed_by, self.log.end_reason = "engine", "returned"
        self._finish("returned")

    def data_received(self, data: bytes) -> None:
        now = self.loop.time()
        buf = self._buf
        buf += data
        pos, end = 0, len(buf)
        while end - pos >= 3:
            kind, length = buf[pos], (buf[pos + 1] << 8) | buf[pos + 2]
            if end - pos - 3 < length:
                break
            start = pos + 3
            pos = start + length
            if 0x10 <= kind <= 0x18 and length:
                if self.hears_bridge:
                    self.pbx.bridge_frame(self, bytes(buf[start : start + 6]), now)
            elif kind == 0x00:
                self.log.closed_by, self.log.end_reason = "engine", "returned"
                self._finish("returned")
            else:  # any other kind, or empty audio: Asterisk hangs up
                self.log.closed_by, self.log.end_reason = "asterisk", "error"
                self._finish("error")
        del buf[:pos]


class LeanPbx(Pbx):
    def __init__(self, *, phases: int, **config):
        super().__init__(**config)
        self.leg_class = functools.partial(LeanLeg, pbx=self)
        from bench.load_media_legs import LeanRtpLeg, LeanWsLeg  # externalMedia RTP and chan_websocket legs

        self.rtp_leg_class = functools.partial(LeanRtpLeg, pbx=self)
        self.ws_leg_class = functools.partial(LeanWsLeg, pbx=self)
        self.recorder = Recorder()
        self.phases = phases
        self.groups: list[list[LeanCaller]] = [[] for _ in range(phases)]
        self.unresolved: list[LeanLeg] = []
        self.answering: set = set()
        self._phase = 0
        self._next_group = 0

    async def _app_answer(self, ch, data):
        # Answer() waits for the first media frame (FACT 8); the lean tick says when one flows.
        self.answering.add(ch)
        try:
            return await super()._app_answer(ch, data)
        finally:
            self.answering.discard(ch)

    def tick(self, t: float) -> None:
        now = self.loop.time()
        if self.recorder.measuring:
            self.recorder.tick_lag.append(now - t)
        phase = self._phase
        self._phase = (phase + 1) % self.phases
        if phase == 0:
            self._housekeeping()
        group = self.groups[phase]
        for caller in group:
            if caller.legs:
                caller.send(now)
        if any(c.call.ended for c in group):
            group[:] = [c for c in group if not c.call.ended]

    def _housekeeping(self) -> None:
        for ch in list(self.answering):
            if ch.media_event is not None and ch.peer is not None and _peers(ch.peer):
                ch.media_event.set()
        still = []
        for leg in self.unresolved:
            if leg.closed:
                continue
            found = self._resolve(leg)
            if found is None:
                still.append(leg)
                continue
            call, in_call_bridge = found
            caller = getattr(call, "lean", None)
            if caller is None:
                caller = call.lean = LeanCaller(call)
                self.groups[self._next_group].append(caller)
                self._next_group = (self._next_group + 1) % self.phases
            leg.source, leg.hears_bridge = caller, in_call_bridge
            caller.legs.append(leg)
        self.unresolved = still

    @staticmethod
    def _resolve(leg: LeanLeg):
        """(call, in the caller's own bridge) once the leg's channel is bridged with the caller
        (the playback leg) or with a snoop on the caller (the capture leg)."""
        ch = leg.channel
        bridged = ch.peer if ch.kind == "local2" else ch
        for member in _peers(bridged):
            if member.kind == "caller" and member.call is not None:
                return member.call, True
            spied = member.spied if member.kind == "snoop" else None
            if spied is not None and spied.kind == "caller" and spied.call is not None:
                return spied.call, False
        return None

    def bridge_frame(self, leg: LeanLeg, head: bytes, now: float) -> None:
        """A frame the engine sent into a caller's bridge, on receipt."""
        seq = frame_seq(head)
        caller = leg.source
        if seq is not None and not caller.echoing.is_set():
            caller.echoing.set()
        note_frame(self.recorder, leg, seq, caller.sent[seq % RING] if seq is not None else None, now)


def note_frame(rec: Recorder, leg, seq: int | None, sent_at: float | None, now: float) -> None:
    """Account one received bridge frame; `leg` keeps `last_rx` and `next_seq` between frames."""
    last = leg.last_rx
    leg.last_rx = now
    if seq is not None:
        if rec.measuring:
            if leg.next_seq is not None and seq > leg.next_seq:
                rec.lost += seq - leg.next_seq
            if sent_at is not None:
                rec.latency.append(now - sent_at)
        if leg.next_seq is None or seq >= leg.next_seq:
            leg.next_seq = seq + 1
    elif rec.measuring and leg.next_seq is not None:
        rec.silent += 1  # silence after the echo had started: an underrun at the engine
    if rec.measuring and last is not None:
        gap = now - last
        rec.frames += 1
        rec.deviation.append(abs(gap - PERIOD))
        if gap > 2 * PERIOD:
            rec.late += 1
            rec.late_at.append(now)


def _peers(ch) -> list:
    bridge = ch.bridge if ch is not None else None
    if bridge is None or not bridge.alive:
        return []
    return [m for m in bridge.members if m is not ch]


class LeanEmulator(AsteriskEmulator):
    """`AsteriskEmulator` with the lean media plane (same constructor, plus `phases`)."""

    def __init__(self, *args, phases: int = 10, **kwargs):
        super().__init__(*args, **kwargs)
        self.phases = phases

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.pbx = LeanPbx(phases=self.phases, **self._config)
        self._api = RestApi(self.pbx)
        await self.start_http()
        self._clock = MediaClock(loop, self.pbx.tick, period=PERIOD / self.phases, on_error=self.pbx.record_error)
        self._clock.start()

    @property
    def recorder(self) -> Recorder:
        return self.pbx.recorder

    @property
    def skipped_ticks(self) -> int:
        return self._clock.skipped if self._clock is not None else 0
