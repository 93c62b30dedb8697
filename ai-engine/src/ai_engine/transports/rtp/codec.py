"""RTP (RFC 3550 §5.1) for externalMedia `encapsulation=rtp transport=udp`, sans-IO: datagrams in,
packets out; payloads in, datagrams out. No sockets here.

   0                   1                   2                   3
   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
  |                           timestamp                           |
  |           synchronization source (SSRC) identifier            |
  |            contributing source (CSRC) identifiers (CC x 4)    |
  |  [extension: 16-bit profile, 16-bit length in words, data]    |  (X=1)
  |  payload ...                                  [padding, last byte = count]  (P=1)

What Asterisk 22.10.1 does on an externalMedia RTP leg (tests/asterisk_facts/more/README.md):
  * it sends V=2, P=0, X=0, CC=0, marker 0 on the first packet, a random start seq, timestamps
    from 320 (slin16) / 160 (ulaw), one random SSRC per call (M4); PT 118 + 640 bytes of
    BIG-endian L16 for slin16 (M5), PT 0 + 160 bytes for ulaw; after a gap (the caller's DTMF)
    the marker is set and the timestamp jumps by the gap (M6); no RFC 2833 events (M6, M42);
  * it silently drops what it cannot map: a dynamic PT, even its own 118 (M8), PT 99 (M10); it
    plays static PTs at their static rates whatever the channel format: PT 0 PCMU, PT 8 PCMA,
    PT 10/11 L16 8 kHz big-endian (M9, cost/ R2), and PT 9 G.722 at 16 kHz (cost/ R3). So agent
    audio goes back to a slin16 leg as G.722 (wideband; `rtp.wideband_return`) or PT 11 (L16
    8 kHz), to a slin leg as PT 11 and to a ulaw leg as PT 0 (a 16 kHz L16 reply cannot reach
    Asterisk, M8);
  * it tolerates sequence and timestamp jumps (M11).

The depacketizer handles what a network does to datagrams: duplicates and packets older than the
last one delivered are dropped, small reorderings are put right by holding at most
`reorder` packets, and a new SSRC (a new stream) restarts the sequence.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

HEADER = struct.Struct(">BBHII")
HEADER_SIZE = HEADER.size  # 12
VERSION = 2
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32


class ProtocolError(ValueError):
    """Not an RTP packet we can use (the datagram is dropped; UDP has no framing to lose)."""


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """One payload type as Asterisk maps it (rtp_engine.c static table)."""

    pt: int
    encoding: str  # "L16" (big-endian), "PCMU" or "G722"
    rate: int  # audio samples per second

    @property
    def bytes_per_tick(self) -> int:
        """Payload bytes per RTP timestamp unit: one sample, except G.722, whose clock runs at
        8 kHz for 16 kHz audio (RFC 3551 §4.5.2) and which packs two samples into a byte."""
        return 2 if self.encoding == "L16" else 1

    @property
    def clock_rate(self) -> int:
        return 8000 if self.encoding == "G722" else self.rate


L16_16K = PayloadFormat(118, "L16", 16000)
G722 = PayloadFormat(9, "G722", 16000)
L16_8K = PayloadFormat(11, "L16", 8000)
L16_8K_STEREO_PT = PayloadFormat(10, "L16", 8000)  # Asterisk maps 10 to slin too (never sends it stereo)
PCMU = PayloadFormat(0, "PCMU", 8000)

# externalMedia format= → what Asterisk sends us (M4; slin: static 10/11, not recorded), and what
# we send back (M8/M9: only static PTs are heard).
RECEIVE: dict[str, tuple[PayloadFormat, ...]] = {
    "slin16": (L16_16K,),
    "slin": (L16_8K, L16_8K_STEREO_PT),
    "ulaw": (PCMU,),
}
SEND: dict[str, PayloadFormat] = {"slin16": G722, "slin": L16_8K, "ulaw": PCMU}
NARROWBAND_SEND: dict[str, PayloadFormat] = {**SEND, "slin16": L16_8K}  # rtp.wideband_return: false


@dataclass(frozen=True, slots=True)
class Packet:
    marker: bool
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse(data: bytes, max_size: int = 1500) -> Packet:
    """One datagram → a packet; raises `ProtocolError` when it is not valid RTP."""
    n = len(data)
    if n > max_size:
        raise ProtocolError(f"datagram of {n} bytes exceeds the {max_size}-byte bound")
    if n < HEADER_SIZE:
        raise ProtocolError(f"datagram of {n} bytes is shorter than an RTP header")
    b0, b1, seq, ts, ssrc = HEADER.unpack_from(data)
    if b0 >> 6 != VERSION:
        raise ProtocolError(f"RTP version {b0 >> 6}, not 2")
    pt = b1 & 0x7F
    if 72 <= pt <= 76:  # RFC 3550 §12.1 / RFC 5761: RTCP packet types 200-204 land here
        raise ProtocolError(f"payload type {pt} is RTCP, not RTP")
    start = HEADER_SIZE + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension
        if n < start + 4:
            raise ProtocolError("truncated header extension")
        start += 4 + 4 * struct.unpack_from(">H", data, start + 2)[0]
    end = n
    if b0 & 0x20:  # padding: the last byte counts the padding bytes, itself included
        pad = data[-1]
        if pad == 0:
            raise ProtocolError("padding count of 0")
        end -= pad
    if start > end:
        raise ProtocolError("header, extension and padding longer than the datagram")
    return Packet(bool(b1 & 0x80), pt, seq, ts, ssrc, bytes(data[start:end]))


def build(payload: bytes, *, payload_type: int, seq: int, timestamp: int, ssrc: int, marker: bool = False) -> bytes:
    """A datagram with a plain 12-byte header (no CSRC, extension or padding: what Asterisk sends)."""
    if not 0 <= payload_type <= 127:
        raise ValueError(f"payload type {payload_type} out of range")
    return HEADER.pack(0x80, (0x80 if marker else 0) | payload_type, seq % SEQ_MOD, timestamp % TS_MOD, ssrc) + payload


class Packetizer:
    """Our outbound stream: one SSRC, random start seq and timestamp (RFC 3550 §5.1), seq +1 per
    packet, timestamp + samples per packet (and + the samples of any gap the caller reports),
    marker on the first packet of a talkspurt."""

    def __init__(self, fmt: PayloadFormat, rng: random.Random | None = None):
        rng = rng or random.SystemRandom()
        self.format = fmt
        self.ssrc = rng.getrandbits(32)
        self.seq = rng.getrandbits(16)
        self.timestamp = rng.getrandbits(32)
        self.packets = 0

    def packet(self, payload: bytes, *, gap_samples: int = 0, marker: bool = False) -> bytes:
        """`payload` already in the wire encoding; `gap_samples` (timestamp units) of nothing sent
        since the last one."""
        if self.packets:
            self.timestamp = (self.timestamp + gap_samples) % TS_MOD
        data = build(
            payload,
            payload_type=self.format.pt,
            seq=self.seq,
            timestamp=self.timestamp,
            ssrc=self.ssrc,
            marker=marker or self.packets == 0,
        )
        self.packets += 1
        self.seq = (self.seq + 1) % SEQ_MOD
        self.timestamp = (self.timestamp + len(payload) // self.format.bytes_per_tick) % TS_MOD
        return data


def seq_delta(a: int, b: int) -> int:
    """b - a in sequence space (RFC 3550 A.1), in -32768..32767."""
    return (b - a + SEQ_MOD // 2) % SEQ_MOD - SEQ_MOD // 2


class Depacketizer:
    """Puts one inbound stream's packets in order: `feed(packet)` returns what may be delivered now.

    Counters: `late` (older than the next packet due: a duplicate of one delivered, or one given
    up on), `duplicates` (of a packet still held), `lost` (given up waiting for), `reordered`
    (held until the missing earlier packet arrived, then delivered in order). The first packet of
    a stream (an SSRC) sets the base: one older than it that arrives later counts as late.
    """

    MAX_JUMP = 3000  # a forward jump beyond this (60 s of 20 ms packets) is a restart, not a loss

    def __init__(self, reorder: int = 2):
        self.reorder = reorder
        self.ssrc: int | None = None
        self.expected: int | None = None  # next seq to deliver
        self._held: dict[int, Packet] = {}
        self.duplicates = self.late = self.lost = self.reordered = 0

    def feed(self, packet: Packet) -> list[Packet]:
        if packet.ssrc != self.ssrc or self.expected is None:
            self.ssrc, self.expected = packet.ssrc, packet.seq
            self._held.clear()
        delta = seq_delta(self.expected, packet.seq)
        if delta < 0:
            if delta <= -self.MAX_JUMP:
                return self._restart(packet)
            self.late += 1
            return []
        if delta > self.MAX_JUMP:
            return self._restart(packet)
        if delta == 0:
            out = [packet]
            self.expected = (packet.seq + 1) % SEQ_MOD
            self.reordered += self._drain(out)
            return out
        if packet.seq in self._held:
            self.duplicates += 1
            return []
        self._held[packet.seq] = packet
        if len(self._held) <= self.reorder:
            return []
        # Waited long enough for the missing ones: skip to the oldest held packet.
        oldest = min(self._held, key=lambda s: seq_delta(self.expected, s))
        self.lost += seq_delta(self.expected, oldest)
        self.expected = oldest
        out: list[Packet] = []
        self._drain(out)
        return out

    def _drain(self, out: list[Packet]) -> int:
        """Append the held packets that are now next in line; returns how many."""
        held, n = self._held, 0
        while self.expected in held:
            out.append(held.pop(self.expected))
            self.expected = (self.expected + 1) % SEQ_MOD
            n += 1
        return n

    def _restart(self, packet: Packet) -> list[Packet]:
        self._held.clear()
        self.expected = (packet.seq + 1) % SEQ_MOD
        return [packet]
