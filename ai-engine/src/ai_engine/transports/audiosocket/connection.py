"""One AudioSocket TCP connection, as an asyncio Protocol at the I/O edge.

Received bytes go through the sans-IO `codec.Decoder` in `data_received`, and each frame is
handed at once, synchronously, to the connection's current owner (`attach(on_event, on_close)`):
no task wakes up per frame. Data flows one way: the connection knows no server and no call, it
only hands frames to whoever is attached. The AudioSocket server attaches first (it reads the
UUID frame and decides who gets the leg); a call attaches once the leg is bound. Between two
owners frames are kept (bounded: past `PENDING_MAX` frames reading pauses, and the kernel's
socket buffer holds the rest, as a connection nobody reads would). The UUID frame's value is
recorded by the connection itself (`uuid`).

An owner that has no use for the leg's audio (the stream-mode playback leg, which Asterisk
feeds with the bridge's mix) can read it in batches: `attach(..., keep_audio=False, batched=True)`
pauses reading after each read, and the owner's `poll()` (every few 20 ms ticks) takes what came
meanwhile in one read. Each read wakes the loop and runs Python: polled every 200 ms, a playback
leg costs 5 reads a second instead of 50 (bench/media_load.py). The leg's end (hang-up frame,
EOF) is then seen at the next poll; nothing is lost, the socket holds what came meanwhile.

Sends are `transport.write()`: no await, no lock. When the transport's buffer passes its high
mark asyncio calls `pause_writing()`; `write_paused_since` then tells the owner how long the
peer has not been reading (the stream output fails a leg stalled for a second).

The owner learns that the leg is gone through `on_close(reason)`, a `LegEnd`: CLOSED (EOF, reset),
MALFORMED (the peer broke the framing: reading stops), TIMEOUT (the media clock saw nothing for the
read timeout), HANDLER_FAILED (a bug in the owner's handler); `LegEnd.detail` says more. The owner
`release()`s the connection at hang-up: the socket closes (Asterisk sees EOF and
AudioSocket() returns).
"""

from __future__ import annotations

import asyncio
import enum
import uuid as uuidlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from voice_common.pcm import frame_bytes

from ...observability import metrics
from ...observability.logs import get_logger
from . import codec

log = get_logger(__name__)

PENDING_MAX = 100  # frames kept for an owner that has not attached yet (2 s of 20 ms frames)
WRITE_HIGH_WATER = 16384  # bytes buffered in the transport before pause_writing()
# Received frames are added to the frames-in metric in batches (exact once the leg closes): a
# metric update per 20 ms frame was a tenth of the receive path's cost (bench/media_load.py).
COUNT_EVERY = 50


class EndKind(enum.Enum):
    CLOSED = "closed"  # EOF or reset by the peer, or closed by us
    MALFORMED = "malformed"  # the peer broke the framing
    TIMEOUT = "timeout"  # nothing received for the read timeout (the media clock decides)
    HANDLER_FAILED = "error"  # the owner's frame handler raised


@dataclass(frozen=True, slots=True)
class LegEnd:
    kind: EndKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


EventSink = Callable[[codec.Event], None]
CloseSink = Callable[[LegEnd], None]
OpenSink = Callable[["AudioSocketConnection"], None]


class AudioSocketConnection(asyncio.Protocol):
    def __init__(self, on_open: OpenSink | None = None, *, max_payload: int = codec.MAX_LENGTH):
        self._on_open = on_open  # told once the socket is up (the server's admission)
        self._decoder = codec.Decoder(max_payload)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._pending: deque[codec.Event] = deque()
        self._ended: LegEnd | None = None  # why the leg ended, while no owner is attached to hear it
        self._on_event: EventSink | None = None
        self._on_close: CloseSink | None = None
        self._keep_audio = True
        self._counted = 0  # audio frames already added to the frames-in metric
        self._reading_paused = False
        self._batched = False  # the owner reads in batches: reading pauses after each read until poll()
        self._parked = False  # paused until the owner's next poll()
        self.peer = "?"
        self.uuid: uuidlib.UUID | None = None  # from the UUID frame, once it came
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

    def attach(self, on_event: EventSink, on_close: CloseSink, *, keep_audio: bool = True, batched: bool = False) -> None:
        """Hand every frame from now on to `on_event` (frames kept so far first) and the leg's end
        to `on_close`. With `keep_audio=False` audio frames are only validated (and their kind
        tracked): for a leg whose inbound audio is of no use. `batched` (only with
        `keep_audio=False`): reading pauses after each read until the owner's next `poll()`."""
        if batched and keep_audio:
            raise ValueError("batched reading is for legs whose audio is dropped (keep_audio=False)")
        self._on_event, self._on_close, self._keep_audio = on_event, on_close, keep_audio
        self._batched = batched
        pending, self._pending = self._pending, deque()
        for event in pending:
            if keep_audio or type(event) is not codec.Audio:
                on_event(event)
        if self._ended is not None:
            on_close(self._ended)
        elif self._reading_paused and self._transport is not None:
            self._reading_paused = self._parked = False
            self._transport.resume_reading()

    def detach(self) -> None:
        """Stop handing frames to the owner (kept again, bounded, until the next attach)."""
        self._on_event = self._on_close = None
        self._keep_audio = True
        self._batched = False
        self.poll()

    def poll(self) -> None:
        """Batched reading: take in what arrived since the last poll (one read, soon)."""
        if self._parked:
            self._parked = False
            if not self._reading_paused and not self.closed and self._transport is not None:
                self._transport.resume_reading()

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
        return bytes(frame_bytes(codec.AUDIO_RATES[kind]))

    def release(self) -> None:
        """The owner is done: close the socket (Asterisk sees EOF, AudioSocket() returns)."""
        self.detach()
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._transport is not None:
                self._transport.close()  # what is buffered is still sent, then EOF

    def end(self, reason: LegEnd) -> None:
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
        if self.closed:  # refused before the socket was up
            transport.close()
            return
        if self._on_open is not None:
            self._on_open(self)

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.last_received = self._loop.time()
        decoder = self._decoder
        try:
            events = decoder.feed(data, self._keep_audio)
        except codec.ProtocolError as exc:
            self._malformed(exc)
            return
        if decoder.audio_frames - self._counted >= COUNT_EVERY:
            self._count_frames()
        for i, event in enumerate(events):
            if type(event) is codec.Uuid and self.uuid is None:
                self.uuid = event.uuid
            on_event = self._on_event  # read per frame: the first frame may hand the leg over
            if on_event is None:
                self._keep(events[i:])
                return
            try:
                on_event(event)
            except Exception as exc:  # a bug in the owner must end its call, not the engine
                log.exception("audiosocket.handler_failed", peer=self.peer, uuid=str(self.uuid))
                self.end(LegEnd(EndKind.HANDLER_FAILED, repr(exc)))
                return
            if self.closed:
                return
        if self._batched and not self._parked and not self._reading_paused and not self.closed:
            self._parked = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        return False  # close our end too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._count_frames()
        self._pending.clear()
        self.write_paused_since = None
        self.end(LegEnd(EndKind.CLOSED))

    def pause_writing(self) -> None:
        self.write_paused_since = self._loop.time()

    def resume_writing(self) -> None:
        self.write_paused_since = None

    # ---- internals ----------------------------------------------------------------------

    def _count_frames(self) -> None:
        frames = self._decoder.audio_frames
        if frames != self._counted:
            metrics.FRAMES_IN.inc(frames - self._counted)
            self._counted = frames

    def _keep(self, events: list[codec.Event]) -> None:
        if self.closed:
            return
        self._pending.extend(events)
        if len(self._pending) >= PENDING_MAX:
            self._pause_reading()

    def _malformed(self, exc: codec.ProtocolError) -> None:
        log.warning("audiosocket.protocol_error", peer=self.peer, uuid=str(self.uuid), error=str(exc))
        self.end(LegEnd(EndKind.MALFORMED, str(exc)))

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self.closed and self._transport is not None:
            self._reading_paused = True
            if not self._parked:
                self._transport.pause_reading()
