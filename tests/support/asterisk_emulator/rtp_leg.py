"""Asterisk's side of an externalMedia RTP leg (``UnicastRTP/<host:port>``), over a real UDP socket.

What it does (``tests/asterisk_facts/more/README.md``, M numbers):

* it binds one UDP port of its own (``UNICASTRTP_LOCAL_ADDRESS``/``_PORT``, M1-M3) and sends from it
  to ``external_host``; the first packet when the channel's bridge delivers its first frame (M4);
* V=2, P=0, X=0, CC=0, random SSRC and start seq, marker 0 on the first packet, timestamps from
  one frame's samples (320 slin16, 160 ulaw); PT 118 + 640 bytes big-endian L16 for ``slin16``
  (M4, M5), PT 0 + 160 bytes for ``ulaw``, PT 10 + 320 bytes big-endian for ``slin``
  (``tests/asterisk_facts/cost/README.md`` C5);
  one packet per 20 ms tick of the emulator's clock;
* during the caller's DTMF on a leg in the caller's bridge: no packets (M6: 819-842 ms for two
  digits, here 0.41 s per digit), then the marker set, seq +1, timestamp advanced by the gap;
  no RFC 2833 events (M6, M42);
* what it plays from the engine: only from the address it sends to (strict RTP, M12: other source
  ports are dropped); PT 0 (PCMU) and PT 10/11 (L16 8 kHz big-endian) whatever the channel
  format (M9); any other PT, its own dynamic 118 included, is dropped silently (M8, M10);
  PT 9 (G.722) is heard at 16 kHz (cost/ C6): decoded (one decoder per leg, ADPCM keeps state) and
  mixed at the bridge's 8 kHz; PT 8 (PCMA, heard in M9) is not emulated (dropped). Sequence and timestamp jumps are played
  through (M11). No jitter buffer: at most 160 ms are held, more is dropped.
* it never hangs up on its own: no timeout when the engine stops sending (M13).
"""
from __future__ import annotations

import asyncio
import random
import struct

import G722
import numpy as np

from .media import resample
from .model import SAMPLES_PER_TICK

RTP_FORMATS = {"slin16": (118, 16000), "ulaw": (0, 8000), "slin": (10, 8000)}
PLAYABLE_PTS = {0, 9, 10, 11}
DTMF_GAP_PER_DIGIT = 0.41
MAX_HOLD_SAMPLES = 1280


def _ulaw_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exp, mant = (u >> 4) & 7, u & 0x0F
    mag = (((mant << 3) + 0x84) << exp) - 0x84
    return np.where(u & 0x80, -mag, mag).astype(np.int16)


ULAW_DECODE = _ulaw_table()


def ulaw_encode(samples: np.ndarray) -> bytes:
    v = samples.astype(np.int32) >> 2
    mask = np.where(v < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(v), 8159) + 0x21
    seg = np.maximum(np.floor(np.log2(mag)).astype(np.int32) - 5, 0)
    val = np.where(seg > 7, 0x7F, (seg << 4) | ((mag >> (seg + 1)) & 0x0F))
    return (val ^ mask).astype(np.uint8).tobytes()


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, leg: "RtpLeg"):
        self.leg = leg

    def datagram_received(self, data: bytes, addr) -> None:
        self.leg._received(data, addr)


class RtpLeg:
    """The mixer's interface is the AudioSocket leg's: ``send_audio(samples_8k)`` (one tick of the
    bridge for the engine), ``pull_frame()`` (what the engine sent, one tick), ``send_dtmf``,
    ``close``, ``closed``; plus ``log`` (every packet) and ``local_port``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, channel, host: str, port: int, fmt: str):
        self.loop = loop
        self.channel = channel
        self.remote = (host, port)
        self.format = fmt
        self.pt, self.rate = RTP_FORMATS[fmt]
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = 0
        self.sent = 0
        self.transport: asyncio.DatagramTransport | None = None
        self.local_port = 0
        self.inbound = np.zeros(0, dtype=np.int16)
        self.g722 = G722.G722(16000, 64000)
        self.mute_until = 0.0
        self.gap_marker = False
        self.last_sent_t = 0.0
        self.log: list[dict] = []     # {"t", "dir" (in = Asterisk → engine), "src"/"dst", "m", "pt", "seq", "ts", "ssrc", "len", "payload", "played"}
        self.dropped = {"stranger": 0, "payload_type": 0, "malformed": 0, "overflow": 0}
        self.closed = False

    async def open(self, host: str = "127.0.0.1") -> None:
        self.transport, _ = await self.loop.create_datagram_endpoint(lambda: _Proto(self), local_addr=(host, 0))
        self.local_port = self.transport.get_extra_info("sockname")[1]

    def close(self, reason: str = "hangup") -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    # -- Asterisk → engine
    def send_audio(self, samples_8k: np.ndarray) -> None:
        if self.closed or self.transport is None:
            return
        step = self.rate // 50
        now = self.loop.time()
        if now < self.mute_until:
            return
        samples = resample(samples_8k, 8000, self.rate)
        payload = ulaw_encode(samples) if self.pt == 0 else samples.astype(">i2").tobytes()
        marker = self.gap_marker
        self.gap_marker = False
        if marker and self.sent:      # the timestamp follows the wall clock through the gap (M6)
            self.ts += max(step, int(round((now - self.last_sent_t) * self.rate)))
        else:
            self.ts += step
        self.last_sent_t = now
        data = struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | self.pt, self.seq, self.ts % (1 << 32), self.ssrc)
        self.transport.sendto(data + payload, self.remote)
        self.log.append({"t": now, "dir": "in", "dst": self.remote, "m": int(marker), "pt": self.pt, "seq": self.seq,
                         "ts": self.ts, "ssrc": self.ssrc, "len": len(payload), "payload": payload})
        self.seq = (self.seq + 1) & 0xFFFF
        self.sent += 1

    def stop_sending(self) -> None:
        """Tests: Asterisk's packets stop reaching the engine (a network cut); the channel stays."""
        self.mute_until = float("inf")

    def send_dtmf(self, digit: str) -> None:
        """No packets while the digit crosses the bridge (M6); no RFC 2833."""
        self.mute_until = max(self.mute_until, self.loop.time()) + DTMF_GAP_PER_DIGIT
        self.gap_marker = True

    # -- engine → Asterisk
    def _received(self, data: bytes, addr) -> None:
        now = self.loop.time()
        entry = {"t": now, "dir": "out", "src": (addr[0], addr[1]), "len": len(data), "played": False}
        self.log.append(entry)
        if (addr[0], addr[1]) != self.remote:
            self.dropped["stranger"] += 1        # strict RTP (M12)
            return
        if len(data) < 12 or data[0] >> 6 != 2:
            self.dropped["malformed"] += 1
            return
        b0, b1, seq, ts, ssrc = struct.unpack_from(">BBHII", data)
        pt = b1 & 0x7F
        payload = data[12 + 4 * (b0 & 0x0F):]
        entry.update({"m": b1 >> 7, "pt": pt, "seq": seq, "ts": ts, "ssrc": ssrc, "len": len(payload), "payload": payload[:16]})
        if pt not in PLAYABLE_PTS:
            self.dropped["payload_type"] += 1    # M8, M10: silently
            return
        if pt == 0:
            samples = ULAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]
        elif pt == 9:
            wideband = np.asarray(self.g722.decode(payload), dtype=np.int16)
            entry["rate"] = 16000
            samples = resample(wideband, 16000, 8000)
        else:
            samples = np.frombuffer(payload[: len(payload) // 2 * 2], dtype=">i2").astype(np.int16)
        entry["played"] = True
        buf = np.concatenate([self.inbound, samples])
        if len(buf) > MAX_HOLD_SAMPLES:
            self.dropped["overflow"] += len(buf) - MAX_HOLD_SAMPLES
            buf = buf[-MAX_HOLD_SAMPLES:]
        self.inbound = buf

    def pull_frame(self) -> np.ndarray | None:
        n = len(self.inbound)
        if n == 0:
            return None
        take = min(n, SAMPLES_PER_TICK)
        frame, self.inbound = self.inbound[:take], self.inbound[take:]
        if take < SAMPLES_PER_TICK:
            frame = np.concatenate([frame, np.zeros(SAMPLES_PER_TICK - take, np.int16)])
        return frame

    # -- views for tests
    def packets(self, direction: str) -> list[dict]:
        return [p for p in self.log if p["dir"] == direction]
