"""Lean externalMedia RTP and chan_websocket legs for bench/load_asterisk.py: the emulator's legs
(same sockets, headers, control messages) without per-packet logging or mixing. Each caller frame
goes straight to the engine; what the engine sends into the caller's bridge is timestamped on
receipt (`LeanPbx.bridge_frame`). slin (8 kHz) only, so the numbered frames survive the echo.
"""

from __future__ import annotations

import struct

import numpy as np

from asterisk_emulator.rtp_leg import RtpLeg
from asterisk_emulator.websocket_media import MediaWsLeg
from wsproto.events import BytesMessage

RTP_HEADER = struct.Struct(">BBHII")


def _swap(data: bytes) -> bytes:
    return np.frombuffer(data, "<i2").astype(">i2").tobytes()


class LeanRtpLeg(RtpLeg):
    """UnicastRTP: the emulator's slin PT (L16 8 kHz big-endian) both ways, one packet per caller frame."""

    def __init__(self, *args, pbx, **kwargs):
        super().__init__(*args, **kwargs)
        if self.rate != 8000:
            raise ValueError("the lean generator emulates slin (8 kHz) legs only")
        self.pbx = pbx
        self.source = None
        self.hears_bridge = False
        self.last_rx = None
        self.next_seq = None

    async def open(self, host: str = "127.0.0.1") -> None:
        await super().open(host)
        self.pbx.unresolved.append(self)

    def push(self, payload: bytes) -> None:  # (`open` is the binding coroutine here: always truthy)
        if self.closed:
            return
        self.ts += 160
        self.transport.sendto(RTP_HEADER.pack(0x80, self.pt, self.seq, self.ts, self.ssrc) + _swap(payload), self.remote)
        self.seq = (self.seq + 1) & 0xFFFF

    def send_audio(self, samples_8k) -> None:
        pass  # the lean tick sends the caller's frames (push)

    def _received(self, data: bytes, addr) -> None:
        if self.hears_bridge and (addr[0], addr[1]) == self.remote and len(data) > 18:
            self.pbx.bridge_frame(self, _swap(data[12:18]), self.loop.time())


class LeanWsLeg(MediaWsLeg):
    """chan_websocket server mode: 320-byte binary messages both ways."""

    def __init__(self, *args, pbx, **kwargs):
        super().__init__(*args, **kwargs)
        if self.rate != 8000:
            raise ValueError("the lean generator emulates slin (8 kHz) legs only")
        self.pbx = pbx
        self.source = None
        self.hears_bridge = False
        self.last_rx = None
        self.next_seq = None

    @property
    def open(self) -> bool:
        return self.ws is not None and not self.closed

    def connected(self, ws) -> None:
        super().connected(ws)
        self.pbx.unresolved.append(self)

    def push(self, payload: bytes) -> None:
        self.ws.send_bytes(payload)

    def send_audio(self, samples_8k) -> None:
        pass

    def _message(self, ev) -> None:
        if isinstance(ev, BytesMessage):
            if self.hears_bridge and len(ev.data) >= 6:
                self.pbx.bridge_frame(self, bytes(ev.data[:6]), self.loop.time())
        else:
            super()._message(ev)
