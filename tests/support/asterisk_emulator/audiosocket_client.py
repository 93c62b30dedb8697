"""Asterisk's side of an AudioSocket TCP connection (the client that connects to the engine).

Framing: 1 byte kind, 2 bytes big-endian length, payload. What it does (asterisk_facts):

* the UUID frame ``01 00 10 <16 raw bytes>`` first (FACT 9), then audio ``0x10`` frames of 320
  bytes (``0x12``/640 for slin16 ...) whenever the bridge delivers a frame, i.e. paced by the
  emulator's 20 ms clock (FACTS 10, 43); DTMF as ``0x03`` + one ASCII digit (FACT 17);
* it never sends ``0x00``: a hang-up is a plain close (FACT 32);
* from the engine: audio kinds ``0x10``-``0x18`` go into the bridge (no pacing, no jitter buffer:
  at most 160 ms are held, more is dropped, like softmix's slinfactory); ``0x00`` or EOF ends
  ``AudioSocket()`` (FACT 35); any other kind or an empty audio frame is an error and the channel
  is hung up; for ``AudioSocket()`` in a Local fork, 2.0 s without a frame in either direction is
  the "Reached timeout" hang-up (FACT 34, snoop F23/F27); externalMedia legs have no such timeout
  (snoop F23, F28).
"""
from __future__ import annotations

import asyncio
import uuid as uuidlib
from dataclasses import dataclass, field

import numpy as np

from .media import KIND_BY_RATE, RATE_BY_KIND, from_bytes, resample, to_bytes
from .model import SAMPLES_PER_TICK

INACTIVITY_TIMEOUT = 2.0
MAX_HOLD_SAMPLES = 1280  # 160 ms at 8 kHz


@dataclass
class ConnLog:
    """Every frame of one connection. ``dir`` follows the recordings: ``in`` = Asterisk → engine,
    ``out`` = engine → Asterisk. Times are the emulator loop's clock (``loop.time()``)."""

    conn: int
    uuid: str
    channel_id: str
    t_connect: float | None = None
    t_close: float | None = None
    closed_by: str | None = None      # "asterisk" or "engine"
    end_reason: str | None = None     # returned / error / timeout / hangup / refused
    frames: list = field(default_factory=list)

    def kinds(self, direction: str) -> list[int]:
        return [f["kind"] for f in self.frames if f["dir"] == direction]

    def audio(self, direction: str = "in") -> bytes:
        return b"".join(f["payload"] for f in self.frames
                        if f["dir"] == direction and 0x10 <= f["kind"] <= 0x18)


class AudioSocketLeg:
    _ids = 0

    def __init__(self, loop: asyncio.AbstractEventLoop, channel, uuid: str, host: str,
                 port: int, rate: int = 8000, local_fork: bool = True,
                 half_amplitude: bool = False):
        AudioSocketLeg._ids += 1
        self.loop = loop
        self.channel = channel
        self.uuid = uuid
        self.host, self.port = host, port
        self.rate = rate
        self.kind = KIND_BY_RATE.get(rate, 0x10)
        self.local_fork = local_fork
        self.half_amplitude = half_amplitude
        self.log = ConnLog(AudioSocketLeg._ids, uuid, channel.id)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.inbound = np.zeros(0, dtype=np.int16)
        self.dropped_samples = 0
        self.last_activity = loop.time()
        self.closed = False

    # -- connection
    async def connect(self, timeout: float = 2.0) -> bool:
        try:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout)
        except (OSError, asyncio.TimeoutError):
            self.closed = True
            self.log.end_reason = "refused"
            return False
        self.log.t_connect = self.loop.time()
        self.last_activity = self.log.t_connect
        self._write(0x01, uuidlib.UUID(self.uuid).bytes)  # FACT 9
        return True

    def close(self, reason: str = "hangup") -> None:
        """Asterisk hangs up: a plain close, never a 0x00 frame (FACT 32)."""
        if self.closed:
            return
        self.closed = True
        self.log.t_close = self.loop.time()
        self.log.closed_by = self.log.closed_by or "asterisk"
        self.log.end_reason = self.log.end_reason or reason
        if self.writer is not None:
            self.writer.close()

    # -- sending (Asterisk → engine)
    def _write(self, kind: int, payload: bytes) -> None:
        if self.closed or self.writer is None:
            return
        self.writer.write(bytes([kind]) + len(payload).to_bytes(2, "big") + payload)
        now = self.loop.time()
        self.last_activity = now
        self.log.frames.append({"t": now, "dir": "in", "kind": kind, "len": len(payload),
                                "payload": payload})

    def send_audio(self, samples_8k: np.ndarray) -> None:
        if self.half_amplitude:  # slin192 Local without formats (docs/architecture.md §3)
            samples_8k = (samples_8k.astype(np.int32) // 2).astype(np.int16)
        self._write(self.kind, to_bytes(resample(samples_8k, 8000, self.rate)))

    def send_dtmf(self, digit: str) -> None:
        self._write(0x03, digit.encode("ascii"))

    # -- what the engine sent, one tick at a time
    def pull_frame(self) -> np.ndarray | None:
        n = len(self.inbound)
        if n == 0:
            return None
        take = min(n, SAMPLES_PER_TICK)
        frame = self.inbound[:take]
        self.inbound = self.inbound[take:]
        if take < SAMPLES_PER_TICK:
            frame = np.concatenate([frame, np.zeros(SAMPLES_PER_TICK - take, np.int16)])
        return frame

    def _push(self, kind: int, payload: bytes) -> None:
        if self.half_amplitude and len(payload) > 320:  # "large frames are dropped"
            self.dropped_samples += len(payload) // 2
            return
        samples = resample(from_bytes(payload), RATE_BY_KIND[kind], 8000)
        buf = np.concatenate([self.inbound, samples])
        if len(buf) > MAX_HOLD_SAMPLES:
            self.dropped_samples += len(buf) - MAX_HOLD_SAMPLES
            buf = buf[-MAX_HOLD_SAMPLES:]
        self.inbound = buf

    # -- reading (engine → Asterisk)
    async def run(self) -> str:
        """Read until the connection ends; returns ``returned`` (0x00 or EOF from the engine),
        ``error`` (bad frame), ``timeout`` (Local fork, 2 s idle) or ``hangup`` (we closed)."""
        assert self.reader is not None
        try:
            while not self.closed:
                try:
                    header = await self._read(3)
                except asyncio.TimeoutError:
                    if self.loop.time() - self.last_activity >= INACTIVITY_TIMEOUT:
                        return self._ended("timeout", by="asterisk")
                    continue
                kind, length = header[0], int.from_bytes(header[1:3], "big")
                payload = await self.reader.readexactly(length) if length else b""
                now = self.loop.time()
                self.last_activity = now
                self.log.frames.append({"t": now, "dir": "out", "kind": kind, "len": length,
                                        "payload": payload})
                if kind == 0x00:
                    return self._ended("returned", by="engine")
                if kind in RATE_BY_KIND and length > 0:
                    self._push(kind, payload)
                    continue
                return self._ended("error", by="asterisk")
        except (asyncio.IncompleteReadError, ConnectionError):
            if self.closed:
                return "hangup"
            return self._ended("returned", by="engine")
        return "hangup"

    async def _read(self, n: int) -> bytes:
        if not self.local_fork:
            return await self.reader.readexactly(n)
        remaining = self.last_activity + INACTIVITY_TIMEOUT - self.loop.time()
        return await asyncio.wait_for(self.reader.readexactly(n), max(remaining, 0.001))

    def _ended(self, reason: str, by: str) -> str:
        if not self.closed:
            self.log.closed_by = by
            self.log.end_reason = reason
        return reason
