"""Media frames for a chan_websocket leg, sans-IO: agent audio out as masked binary frames, and
Asterisk's bytes in split at frame boundaries, its audio messages read here and the rest left whole
for wsproto.

The leg is a WebSocket client, so every frame it sends is masked (RFC 6455 §5.3). One agent
frame is one unfragmented binary message (§5.2):

  byte 0   FIN=1, RSV=0, opcode 0x2 (binary)                        0x82
  byte 1   MASK=1, payload length 0-125, or 126 (+ 16-bit length) or 127 (+ 64-bit length)
           then the 4-byte masking key, then the payload XOR-ed with the key repeated

wsproto (leg.py) keeps the handshake, the control frames we send (pong, close) and every inbound
frame but one kind; this module writes the one message the media clock sends per leg every 20 ms,
which wsproto's general path made about three times as costly (8.2 us against about 2.5 per
20 ms frame, timed alone). Sending needs no connection state: the leg stops calling it once closed.

Inbound, Asterisk sends a 20 ms binary message every 20 ms per call as one unmasked final frame
(a server's frames are never masked, §5.1): 0x82, then the length form, then the payload.
`InboundFrames` reads those itself and hands every other frame (text, ping, close, a fragment, a
masked or reserved-bit frame, anything during a fragmented message) to wsproto whole, one frame
at a time, so wsproto never holds part of a frame and its checks still judge all the rest (the
audio frames themselves are not checked for the shortest length form, as wsproto would). Only
the bytes of one unfinished frame are kept, bounded by the largest payload allowed.

Masking keys come from the operating system's random source (§5.3 asks for a strong one),
drawn a thousand keys at a time.
"""

from __future__ import annotations

import os
import struct

FIN_BINARY = 0x82
MASK_BIT = 0x80
KEYS_PER_DRAW = 1024

_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


class FrameTooLarge(ValueError):
    pass


class Passed(bytes):
    """One whole frame, header included, for wsproto to read."""


class InboundFrames:
    def __init__(self, max_payload: int):
        self._max = max_payload
        self._rest = b""  # the start of a frame not yet whole
        self._fragmented = False  # inside a message whose first frame had FIN=0: all goes to wsproto
        self.error: FrameTooLarge | None = None

    def receive(self, data: bytes) -> list[bytes]:
        """Whole frames in `data` (after what was left over): a binary message's payload as
        `bytes`, every other frame as `Passed`. A frame header past the bound sets `error` (the
        frames before it are still returned) and nothing more is read."""
        if self.error is not None:
            return []
        buf = self._rest + data if self._rest else data
        out: list[bytes] = []
        i, n = 0, len(buf)
        while n - i >= 2:
            b0, b1 = buf[i], buf[i + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if n - i < 4:
                    break
                length, head = (buf[i + 2] << 8) | buf[i + 3], 4
            elif length == 127:
                if n - i < 10:
                    break
                length, head = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
            if length > self._max:
                self.error = FrameTooLarge(f"frame of {length} bytes over {self._max}")
                break
            if b1 & MASK_BIT:
                head += 4
            end = i + head + length
            if end > n:
                break
            if b0 == FIN_BINARY and not b1 & MASK_BIT and not self._fragmented:
                out.append(buf[i + head : end])
            else:
                if not b0 & 0x08:  # a data frame (text, binary, continuation), not a control one
                    self._fragmented = not b0 & 0x80
                out.append(Passed(buf[i:end]))
            i = end
        self._rest = buf[i:]
        return out


class MaskedBinaryEncoder:
    def __init__(self, random_bytes=os.urandom):
        self._random_bytes = random_bytes
        self._keys = b""
        self._next = 0

    def encode(self, payload: bytes) -> bytes:
        """One binary message as a masked client frame."""
        n = len(payload)
        if n < 126:
            header = _SHORT.pack(FIN_BINARY, MASK_BIT | n)
        elif n < 1 << 16:
            header = _MEDIUM.pack(FIN_BINARY, MASK_BIT | 126, n)
        else:
            header = _LONG.pack(FIN_BINARY, MASK_BIT | 127, n)
        key = self._key()
        return header + key + mask(payload, key)

    def _key(self) -> bytes:
        if self._next >= len(self._keys):
            self._keys, self._next = self._random_bytes(4 * KEYS_PER_DRAW), 0
        key = self._keys[self._next : self._next + 4]
        self._next += 4
        return key


def mask(payload: bytes, key: bytes) -> bytes:
    """payload XOR the 4-byte key repeated (§5.3), as one big-integer XOR."""
    n = len(payload)
    if not n:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")
