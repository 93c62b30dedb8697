"""Asterisk's side of a chan_websocket media connection (externalMedia ``transport=websocket``,
``connection_type=server``), on the emulator's own HTTP port at ``/media/<connection id>``.

What it does (``tests/asterisk_facts/more/README.md``, M numbers):

* the upgrade needs no credentials and no subprotocol; an unknown id gets 404 "WebSocket instance
  not found", a second connection for the same id 409 (M16, from source; not recorded);
* on connect: MEDIA_START (plain text) at once (M17); binary messages of ``optimal_frame_size``
  bytes (640 for slin16, little-endian) whenever the bridge delivers a frame (M19); DTMF as
  ``DTMF_END digit:<d> channel_id:<id>`` (M20);
* what the engine sends: binary messages of any size, re-framed into 20 ms frames queued and
  played at the bridge's 20 ms tick (Asterisk paces, M21); MEDIA_XOFF when 900 frames are queued,
  MEDIA_XON when back at 800, frames beyond 1000 dropped (M27); GET_STATUS -> STATUS (M22);
  REPORT_QUEUE_DRAINED -> QUEUE_DRAINED once the queue is empty (M23); MARK_MEDIA <m> ->
  MEDIA_MARK_PROCESSED <m> when playout reaches it (M24); START/STOP_MEDIA_BUFFERING <id> ->
  MEDIA_BUFFERING_COMPLETED <id> once played (M25); FLUSH_MEDIA empties the queue, no reply (M26);
  PAUSE_MEDIA / CONTINUE_MEDIA hold and resume playout, no reply (M28); SET_MEDIA_DIRECTION in
  plain text -> the ERROR message with its trailing newline; unknown commands: no reply (M29);
  HANGUP -> the channel hangs up (cause 16) and the socket closes with 1000 (M31);
* ``DELETE`` of the channel closes the socket with 1000 (M31); after the caller left, no frames (M32).
  When the engine closes the socket first the channel stays (not recorded).
Not emulated: JSON control mode (client mode, M18), SET_MEDIA_DIRECTION in JSON (M30), the
552-byte frame at the end of a file (M19).
"""
from __future__ import annotations

import numpy as np
from wsproto.events import BytesMessage, TextMessage

from .media import resample
from .model import SAMPLES_PER_TICK

WS_RATES = {"slin": 8000, "slin16": 16000}
XOFF_LEVEL, XON_LEVEL, MAX_QUEUE = 900, 800, 1000


class MediaWsLeg:
    def __init__(self, loop, channel, connection_id: str, fmt: str):
        self.loop = loop
        self.channel = channel
        self.connection_id = connection_id
        self.format = fmt
        self.rate = WS_RATES[fmt]
        self.frame_bytes = self.rate // 50 * 2
        self.ws = None
        self.queue: list[np.ndarray] = []    # 20 ms frames at 8 kHz (the bridge's rate)
        self.partial = b""
        self.marks: list[tuple[int, str, str]] = []   # (frames still to play before it, kind, id)
        self.report_drained = False
        self.paused = False
        self.xoff = False
        self.dropped_frames = 0
        self.stopped = False
        self.log: list[dict] = []   # {"t", "dir" (in = Asterisk → engine), "type", "len"|"text"}
        self.closed = False

    # -- the connection
    def connected(self, ws) -> None:
        self.ws = ws
        ws.on_message = self._message
        self._text(f"MEDIA_START connection_id:{self.connection_id} channel:{self.channel.name} "
                   f"channel_id:{self.channel.id} format:{self.format} optimal_frame_size:{self.frame_bytes} ptime:20")

    def close(self, reason: str = "hangup") -> None:
        if not self.closed:
            self.closed = True
            if self.ws is not None:
                self.ws.close(1000)

    def stop_sending(self) -> None:
        """Tests: Asterisk's frames stop reaching the engine; the channel stays."""
        self.stopped = True

    # -- Asterisk → engine
    def _text(self, text: str) -> None:
        if self.ws is not None and not self.closed:
            self.ws.send_text(text)
            self.log.append({"t": self.loop.time(), "dir": "in", "type": "text", "text": text})

    def send_audio(self, samples_8k: np.ndarray) -> None:
        if self.ws is None or self.closed or self.stopped:
            return
        data = resample(samples_8k, 8000, self.rate).astype("<i2").tobytes()
        self.ws.send_bytes(data)
        self.log.append({"t": self.loop.time(), "dir": "in", "type": "binary", "len": len(data)})

    def send_dtmf(self, digit: str) -> None:
        self._text(f"DTMF_END digit:{digit} channel_id:{self.channel.id}")

    # -- engine → Asterisk
    def _message(self, ev) -> None:
        now = self.loop.time()
        if isinstance(ev, BytesMessage):
            self.log.append({"t": now, "dir": "out", "type": "binary", "len": len(ev.data)})
            self._queue_audio(bytes(ev.data))
        elif isinstance(ev, TextMessage):
            self.log.append({"t": now, "dir": "out", "type": "text", "text": ev.data})
            self._command(ev.data)

    def _queue_audio(self, data: bytes) -> None:
        data = self.partial + data
        whole = len(data) // self.frame_bytes * self.frame_bytes
        self.partial = data[whole:]
        for i in range(0, whole, self.frame_bytes):
            if len(self.queue) >= MAX_QUEUE:
                self.dropped_frames += 1
                continue
            samples = np.frombuffer(data[i:i + self.frame_bytes], "<i2").astype(np.int16)
            self.queue.append(resample(samples, self.rate, 8000))
        if not self.xoff and len(self.queue) >= XOFF_LEVEL:
            self.xoff = True
            self._text("MEDIA_XOFF")

    def _command(self, text: str) -> None:
        name, _, arg = text.strip().partition(" ")
        if name == "GET_STATUS":
            self._text(f"STATUS channel_id:{self.channel.id} queue_length:{len(self.queue)} xon_level:{XON_LEVEL} "
                       f"xoff_level:{XOFF_LEVEL} queue_full:{str(self.xoff).lower()} bulk_media:false "
                       f"media_paused:{str(self.paused).lower()}")
        elif name == "REPORT_QUEUE_DRAINED":
            self.report_drained = True
        elif name in ("MARK_MEDIA", "STOP_MEDIA_BUFFERING"):
            kind = "MEDIA_MARK_PROCESSED" if name == "MARK_MEDIA" else "MEDIA_BUFFERING_COMPLETED"
            self.marks.append((len(self.queue), kind, arg))
        elif name == "START_MEDIA_BUFFERING":
            pass
        elif name == "FLUSH_MEDIA":
            self.queue.clear()
            self.marks.clear()
            self._check_xon()
        elif name == "PAUSE_MEDIA":
            self.paused = True
        elif name == "CONTINUE_MEDIA":
            self.paused = False
        elif name == "SET_MEDIA_DIRECTION":
            self._text(f"ERROR channel_id:{self.channel.id} error_text:SET_MEDIA_DIRECTION only supports JSON format.\n")
        elif name == "HANGUP":
            self.hangup_requested()
        # anything else: no reply (M29)

    def hangup_requested(self) -> None:
        """Replaced by the PBX (externalmedia_websocket.py): HANGUP hangs the channel up."""

    def _check_xon(self) -> None:
        if self.xoff and len(self.queue) <= XON_LEVEL:
            self.xoff = False
            self._text("MEDIA_XON")

    # -- the bridge's tick
    def pull_frame(self) -> np.ndarray | None:
        if self.paused or self.closed:
            return None
        if not self.queue:
            if self.report_drained:
                self.report_drained = False
                self._text("QUEUE_DRAINED")
            self._fire_marks(force=True)
            return None
        frame = self.queue.pop(0)
        self.marks = [(n - 1, kind, mark) for n, kind, mark in self.marks]
        self._fire_marks()
        self._check_xon()
        if len(frame) < SAMPLES_PER_TICK:
            frame = np.concatenate([frame, np.zeros(SAMPLES_PER_TICK - len(frame), np.int16)])
        return frame[:SAMPLES_PER_TICK]

    def _fire_marks(self, force: bool = False) -> None:
        while self.marks and (self.marks[0][0] <= 0 or force):
            _, kind, mark = self.marks.pop(0)
            self._text(f"{kind} {mark}")

    # -- views for tests
    def messages(self, direction: str, kind: str | None = None) -> list[dict]:
        return [m for m in self.log if m["dir"] == direction and (kind is None or m["type"] == kind)]
