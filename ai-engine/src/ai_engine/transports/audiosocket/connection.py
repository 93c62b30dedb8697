"""One AudioSocket TCP connection, as an asyncio Protocol at the I/O edge.

Received bytes go through the sans-IO `codec.Decoder` in `data_received`, and each frame is
handed at once, synchronously, to the leg's owner (`attach(on_event, on_close)`): no task
wakes up per frame. Until the server has bound the connection to a call by its UUID frame
(`server.py`), frames go to the server; once bound and until an owner attaches, they are kept
(bounded: past `PENDING_MAX` frames reading pauses, and the kernel's socket buffer holds the
rest, as a connection nobody reads would).

Sends are `transport.write()`: no await, no lock. When the transport's buffer passes its high
mark asyncio calls `pause_writing()`; `write_paused_since` then tells the owner how long the
peer has not been reading (the stream output fails a leg stalled for a second).

The owner learns that the leg is gone through `on_close(reason)`: "closed" (EOF, reset),
"malformed: ..." (the peer broke the framing: reading stops), "timeout" (the media clock saw
nothing for the read timeout), "error: ..." (a bug in the owner's handler). The owner
`release()`s the connection at hang-up: the socket closes (Asterisk sees EOF and
AudioSocket() returns).
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from ...observability import metrics
from ...observability.logs import get_logger
from . import codec

if TYPE_CHECKING:
    from .server import AudioSocketServer

log = get_logger(__name__)

SILENCE_20MS_8K = b"\x00" * 320
PENDING_MAX = 100  # frames kept for an owner that has not attached yet (2 s of 20 ms frames)
WRITE_HIGH_WATER = 16384  # bytes buffered in the transport before pause_writing()

EventSink = Callable[[codec.Event], None]
CloseSink = Callable[[str], None]


class AudioSocketConnection(asyncio.Protocol):
    def __init__(self, server: AudioSocketServer | None = None, *, max_payload: int = codec.MAX_LENGTH):
        self._server = server
        self._decoder = codec.Decoder(max_payload)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._pending: deque[codec.Event] = deque()
        self._ended: str | None = None  # why the leg ended, while no owner is attached to hear it
        self._on_event: EventSink | None = None
        self._on_close: CloseSink | None = None
        self._keep_audio = True
        self._counted = 0  # audio frames already added to the frames-in metric
        self._reading_paused = False
        self.peer = "?"
        self.uuid: uuidlib.UUID | None = None
        self.bound = False  # the server gave it to a call
        self.closed = False  # closed by either side: nothing more is sent or received
        self.last_activity = self.last_received = self._loop.time()
        self.write_paused_since: float | None = None  # loop time the transport's buffer filled up

    # ---- what the owner sees ------------------------------------------------------------

    @property
    def audio_kind(self) -> codec.Kind | None:
        """The first audio kind received: what the leg negotiated."""
        return self._decoder.first_audio_kind

    @property
    def last_audio_kind(self) -> codec.Kind | None:
        """The kind of the latest audio frame received (tracked even when audio is dropped)."""
        return self._decoder.last_audio_kind

    def attach(self, on_event: EventSink, on_close: CloseSink, *, keep_audio: bool = True) -> None:
        """Hand every frame from now on to `on_event` (frames kept so far first) and the leg's end
        to `on_close`. With `keep_audio=False` audio frames are only validated (and their kind
        tracked): for a leg whose inbound audio is of no use."""
        self._on_event, self._on_close, self._keep_audio = on_event, on_close, keep_audio
        pending, self._pending = self._pending, deque()
        for event in pending:
            if keep_audio or type(event) is not codec.Audio:
                on_event(event)
        if self._ended is not None:
            on_close(self._ended)
        elif self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()

    def detach(self) -> None:
        """Stop handing frames to the owner (kept again, bounded, until the next attach)."""
        self._on_event = self._on_close = None
        self._keep_audio = True

    def send_audio(self, pcm: bytes, kind: codec.Kind | None = None) -> None:
        """Queue one audio frame. Raises `anyio.ClosedResourceError` once the leg is closed."""
        if self.closed:
            raise anyio.ClosedResourceError
        self._transport.write(codec.audio_header(kind or self.audio_kind or codec.Kind.SLIN_8K, len(pcm)) + pcm)
        self.last_activity = self._loop.time()

    def send_hangup(self) -> None:
        if not self.closed:
            self._transport.write(codec.encode_hangup())

    def silence_frame(self) -> bytes:
        kind = self.audio_kind or codec.Kind.SLIN_8K
        return b"\x00" * (codec.AUDIO_RATES[kind] // 50 * 2)

    def release(self) -> None:
        """The owner is done: close the socket (Asterisk sees EOF, AudioSocket() returns)."""
        self.detach()
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._transport is not None:
                self._transport.close()  # what is buffered is still sent, then EOF

    def end(self, reason: str) -> None:
        """The leg is over for `reason` (tell the owner once); reading stops."""
        if self._ended is not None:
            return
        self._ended = reason
        self._pause_reading()
        on_close = self._on_close
        if on_close is not None:
            on_close(reason)

    # ---- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  (uvloop's is not an asyncio.Transport subclass)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        if self._server is not None:
            self._server.opened(self)

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.last_received = self._loop.time()
        decoder = self._decoder
        try:
            events = decoder.feed(data, self._keep_audio)
        except codec.ProtocolError as exc:
            self._malformed(exc)
            return
        if decoder.audio_frames != self._counted:
            metrics.FRAMES_IN.inc(decoder.audio_frames - self._counted)
            self._counted = decoder.audio_frames
        if not events:
            return
        on_event = self._on_event
        if on_event is None:
            self._keep(events)
            return
        try:
            for event in events:
                on_event(event)
        except Exception as exc:  # a bug in the owner must end its call, not the engine
            log.exception("audiosocket.handler_failed", peer=self.peer, uuid=str(self.uuid))
            self.end(f"error: {exc!r}")

    def eof_received(self) -> bool:
        return False  # close our end too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pending.clear()
        self.write_paused_since = None
        if self._server is not None:
            self._server.lost(self)
        if self.bound:
            self.end("closed")

    def pause_writing(self) -> None:
        self.write_paused_since = self._loop.time()

    def resume_writing(self) -> None:
        self.write_paused_since = None

    # ---- internals ----------------------------------------------------------------------

    def _keep(self, events: list[codec.Event]) -> None:
        if not self.bound:
            if self._server is None or self.closed:
                return
            first, events = events[0], events[1:]
            self._server.first_frame(self, first)
            if not self.bound:
                return
            if self._on_event is not None:  # the binder attached an owner at once
                for event in events:
                    self._on_event(event)
                return
        self._pending.extend(events)
        if len(self._pending) >= PENDING_MAX:
            self._pause_reading()

    def _malformed(self, exc: codec.ProtocolError) -> None:
        if not self.bound:
            if self._server is not None:
                self._server.refuse(self, f"malformed first frame: {exc}")
            return
        log.warning("audiosocket.protocol_error", peer=self.peer, uuid=str(self.uuid), error=str(exc))
        self.end(f"malformed: {exc}")

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self.closed and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()
