"""AudioSocket framing, sans-IO: bytes in, events out; events in, bytes out. No sockets here.

Frame: 1 byte kind, 2 bytes big-endian payload length, payload (docs/architecture.md §3).

  0x00 hangup (no payload)      0x01 UUID (16 raw bytes)     0x03 DTMF (1 ASCII byte)
  0x10..0x18 signed 16-bit LE mono audio at 8, 12, 16, 24, 32, 44.1, 48, 96, 192 kHz
  0xFF error (optional payload)

The decoder is strict: a frame that violates the protocol raises `ProtocolError` and the
decoder stays broken (framing is lost, the connection must be closed). Sizes are bounded by
`max_payload`, so a peer cannot make us buffer more than one frame's worth of bytes.
"""

from __future__ import annotations

import struct
import uuid as uuidlib
from dataclasses import dataclass
from enum import IntEnum

HEADER = struct.Struct(">BH")
HEADER_SIZE = HEADER.size
MAX_LENGTH = 0xFFFF


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    SLIN_8K = 0x10
    SLIN_12K = 0x11
    SLIN_16K = 0x12
    SLIN_24K = 0x13
    SLIN_32K = 0x14
    SLIN_44K = 0x15
    SLIN_48K = 0x16
    SLIN_96K = 0x17
    SLIN_192K = 0x18
    ERROR = 0xFF


AUDIO_RATES: dict[int, int] = {
    Kind.SLIN_8K: 8000,
    Kind.SLIN_12K: 12000,
    Kind.SLIN_16K: 16000,
    Kind.SLIN_24K: 24000,
    Kind.SLIN_32K: 32000,
    Kind.SLIN_44K: 44100,
    Kind.SLIN_48K: 48000,
    Kind.SLIN_96K: 96000,
    Kind.SLIN_192K: 192000,
}
KIND_FOR_RATE: dict[int, Kind] = {rate: Kind(kind) for kind, rate in AUDIO_RATES.items()}
# Asterisk format names (externalMedia format=...) and the frame kind each streams as (FACT 43).
FORMAT_KINDS: dict[str, Kind] = {
    "slin": Kind.SLIN_8K,
    "slin12": Kind.SLIN_12K,
    "slin16": Kind.SLIN_16K,
    "slin24": Kind.SLIN_24K,
    "slin32": Kind.SLIN_32K,
    "slin44": Kind.SLIN_44K,
    "slin48": Kind.SLIN_48K,
    "slin96": Kind.SLIN_96K,
    "slin192": Kind.SLIN_192K,
}
DTMF_DIGITS = frozenset(b"0123456789*#ABCDabcd")


class ProtocolError(ValueError):
    """The peer broke the framing or sent an invalid frame; the stream is unusable."""


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Uuid:
    uuid: uuidlib.UUID


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class Audio:
    kind: Kind
    payload: bytes

    @property
    def rate(self) -> int:
        return AUDIO_RATES[self.kind]


@dataclass(frozen=True, slots=True)
class Error:
    payload: bytes


Event = Hangup | Uuid | Dtmf | Audio | Error


def frame_bytes(kind: int, payload: bytes = b"") -> bytes:
    """Any frame, as bytes (no checks: use the `encode_*` helpers for what we may send)."""
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a frame")
    return HEADER.pack(kind, len(payload)) + payload


def encode_audio(pcm: bytes, kind: Kind = Kind.SLIN_8K) -> bytes:
    """An audio frame. Asterisk hangs up on an empty audio frame, so that is refused here."""
    if kind not in AUDIO_RATES:
        raise ValueError(f"0x{int(kind):02x} is not an audio kind")
    if not pcm or len(pcm) % 2:
        raise ValueError(f"audio payload must be a non-empty whole number of samples, got {len(pcm)} bytes")
    return frame_bytes(kind, pcm)


def audio_header(kind: Kind, nbytes: int) -> bytes:
    """The 3-byte header of an audio frame of `nbytes` (cached: the hot path sends one per 20 ms
    per leg, always of the same size)."""
    key = (kind, nbytes)
    header = _AUDIO_HEADERS.get(key)
    if header is None:
        if kind not in AUDIO_RATES:
            raise ValueError(f"0x{int(kind):02x} is not an audio kind")
        if not nbytes or nbytes % 2 or nbytes > MAX_LENGTH:
            raise ValueError(f"audio payload must be a non-empty whole number of samples, got {nbytes} bytes")
        header = HEADER.pack(kind, nbytes)
        if len(_AUDIO_HEADERS) < 64:
            _AUDIO_HEADERS[key] = header
    return header


_AUDIO_HEADERS: dict[tuple[int, int], bytes] = {}


def encode_hangup() -> bytes:
    return frame_bytes(Kind.HANGUP)


def encode_uuid(value: uuidlib.UUID) -> bytes:
    """Only a client (Asterisk, or the test emulator) sends this; Asterisk hangs up if it receives one."""
    return frame_bytes(Kind.UUID, value.bytes)


def encode_dtmf(digit: str) -> bytes:
    raw = digit.encode("ascii")
    if len(raw) != 1 or raw[0] not in DTMF_DIGITS:
        raise ValueError(f"invalid DTMF digit {digit!r}")
    return frame_bytes(Kind.DTMF, raw)


class Decoder:
    """Incremental decoder: `feed()` bytes as they arrive, get the complete frames back.

    Handles frames split over reads and several frames coalesced in one read. Whole frames in
    one read (the usual case: one 20 ms frame per read) are parsed straight from the bytes
    received, with no intermediate buffer.
    """

    def __init__(self, max_payload: int = MAX_LENGTH) -> None:
        self.max_payload = max_payload
        self._rest = b""  # the start of a frame whose end has not arrived yet
        self._broken: ProtocolError | None = None
        self.audio_frames = 0  # audio frames decoded so far (kept or skipped)
        self.first_audio_kind: Kind | None = None  # what the leg negotiated
        self.last_audio_kind: Kind | None = None

    @property
    def buffered(self) -> int:
        return len(self._rest)

    def feed(self, data: bytes, keep_audio: bool = True) -> list[Event]:
        """Add received bytes; return the complete frames now available, in order.

        With `keep_audio=False` audio frames are validated and counted (`audio_frames`,
        `last_audio_kind`) but not returned: for a leg whose inbound audio is dropped."""
        if self._broken is not None:
            raise self._broken
        if self._rest:
            data = self._rest + data
        events: list[Event] = []
        pos = 0
        end = len(data)
        max_payload = self.max_payload
        try:
            while end - pos >= HEADER_SIZE:
                kind = data[pos]
                length = (data[pos + 1] << 8) | data[pos + 2]
                audio_kind = _AUDIO_KINDS.get(kind)
                if audio_kind is not None:
                    if length > max_payload or length == 0 or length & 1:
                        self._check_header(kind, length)  # raises, with the reason
                    if end - pos - HEADER_SIZE < length:
                        break
                    start = pos + HEADER_SIZE
                    pos = start + length
                    self.audio_frames += 1
                    if self.last_audio_kind is not audio_kind:
                        if self.first_audio_kind is None:
                            self.first_audio_kind = audio_kind
                        self.last_audio_kind = audio_kind
                    if keep_audio:
                        events.append(Audio(audio_kind, data[start:pos]))
                    continue
                self._check_header(kind, length)
                if end - pos - HEADER_SIZE < length:
                    break
                start = pos + HEADER_SIZE
                events.append(self._event(kind, bytes(data[start : start + length])))
                pos = start + length
            if end - pos >= 1:
                # Validate a partial header's kind early: garbage is refused before we wait for more.
                self._check_kind(data[pos])
        except ProtocolError as exc:
            self._broken = exc
            self._rest = b""
            raise
        self._rest = data[pos:] if pos < end else b""
        return events

    def _check_kind(self, kind: int) -> None:
        if kind not in _KNOWN_KINDS:
            raise ProtocolError(f"unknown frame kind 0x{kind:02x}")

    def _check_header(self, kind: int, length: int) -> None:
        self._check_kind(kind)
        if length > self.max_payload:
            raise ProtocolError(f"frame kind 0x{kind:02x} of {length} bytes exceeds the {self.max_payload}-byte bound")
        expected = _FIXED_LENGTHS.get(kind)
        if expected is not None and length != expected:
            raise ProtocolError(f"frame kind 0x{kind:02x} must carry {expected} bytes, got {length}")
        if kind in AUDIO_RATES and (length == 0 or length % 2):
            raise ProtocolError(f"audio frame of {length} bytes is not a non-empty whole number of samples")

    @staticmethod
    def _event(kind: int, payload: bytes) -> Event:
        if kind in AUDIO_RATES:
            return Audio(Kind(kind), payload)
        if kind == Kind.UUID:
            return Uuid(uuidlib.UUID(bytes=payload))
        if kind == Kind.DTMF:
            if payload[0] not in DTMF_DIGITS:
                raise ProtocolError(f"invalid DTMF byte 0x{payload[0]:02x}")
            return Dtmf(payload.decode("ascii"))
        if kind == Kind.HANGUP:
            return Hangup()
        return Error(payload)


_KNOWN_KINDS = frozenset(int(k) for k in Kind)
_AUDIO_KINDS: dict[int, Kind] = {int(k): Kind(k) for k in AUDIO_RATES}
_FIXED_LENGTHS = {Kind.HANGUP: 0, Kind.UUID: 16, Kind.DTMF: 1}
