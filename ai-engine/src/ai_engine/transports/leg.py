"""What a call relies on from a media leg, whatever carries it: an AudioSocket connection
(`audiosocket/connection.py`), an externalMedia RTP leg (`rtp/leg.py`) or a chan_websocket leg
(`websocket/leg.py`).

Inbound audio reaches the owner as the AudioSocket codec's events (`codec.Audio`: signed 16-bit
little-endian PCM at `event.rate`; `codec.Dtmf`; `codec.Hangup`), whatever the wire format was:
each transport decodes its own wire (RTP big-endian L16 or G.711, WebSocket binary frames) at its
edge, so the conversation, the VAD and the stream output never know which transport they run on.

The contract:
  * `attach(on_event, on_close, keep_audio=)` hands every inbound event to `on_event`, synchronously
    from the receive callback (no task per frame), and the leg's end once to `on_close(LegEnd)`:
    CLOSED, MALFORMED, TIMEOUT (the media clock saw nothing for the read timeout), HANDLER_FAILED
    (a bug in the owner's handler). `detach()` stops that.
  * `send_audio(pcm, kind)` never blocks: one frame of 20 ms (or any whole number of samples) of
    little-endian PCM of `kind`'s rate, written at once; `anyio.ClosedResourceError` once closed.
    `audio_kind` is the kind the leg takes without conversion (what it negotiated).
  * `write_paused_since` (loop time) is set while the peer does not take what we send (TCP buffer
    full, chan_websocket MEDIA_XOFF); the stream output holds audio back meanwhile.
  * `last_received` / `last_activity` (loop time) drive the media clock's read timeout and
    keepalive; `end(LegEnd)` is how the clock ends a silent leg; `release()` frees everything the
    leg holds (socket, port) and is safe to call more than once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from ..observability.logs import get_logger
from .audiosocket import codec
from .audiosocket.connection import EndKind, LegEnd

EventSink = Callable[[codec.Event], None]
CloseSink = Callable[[LegEnd], None]

__all__ = ["CloseSink", "EndKind", "EventSink", "LegEnd", "MediaLeg", "OwnedLeg"]

log = get_logger(__name__)


class MediaLeg(Protocol):
    closed: bool
    last_received: float
    last_activity: float
    write_paused_since: float | None

    @property
    def audio_kind(self) -> codec.Kind | None: ...

    @property
    def last_audio_kind(self) -> codec.Kind | None: ...

    def attach(self, on_event: EventSink, on_close: CloseSink, *, keep_audio: bool = True) -> None: ...

    def detach(self) -> None: ...

    def send_audio(self, pcm: bytes, kind: codec.Kind | None = None) -> None: ...

    def silence_frame(self) -> bytes: ...

    def end(self, end: LegEnd) -> None: ...

    def release(self) -> None: ...


class OwnedLeg:
    """The owner side of the contract above, shared by the RTP and the chan_websocket legs: events
    kept (bounded) until an owner attaches, handed over synchronously after, the leg's end told
    once, and a failing handler ending its own leg, never the engine. (The AudioSocket connection
    has its own: it pauses reading instead of dropping what does not fit.)"""

    PENDING_MAX = 50  # events kept until the owner attaches (1 s of 20 ms frames)
    _handler_failed_event = "leg.handler_failed"

    def _init_owner(self) -> None:
        self._pending: deque[codec.Event] = deque(maxlen=self.PENDING_MAX)
        self._on_event: EventSink | None = None
        self._on_close: CloseSink | None = None
        self._keep_audio = True
        self._ended: LegEnd | None = None

    def attach(self, on_event: EventSink, on_close: CloseSink, *, keep_audio: bool = True) -> None:
        self._on_event, self._on_close, self._keep_audio = on_event, on_close, keep_audio
        pending, self._pending = self._pending, deque(maxlen=self.PENDING_MAX)
        for event in pending:
            if keep_audio or type(event) is not codec.Audio:
                on_event(event)
        if self._ended is not None:
            on_close(self._ended)

    def detach(self) -> None:
        self._on_event = self._on_close = None
        self._keep_audio = True

    def end(self, end: LegEnd) -> None:
        if self._ended is not None:
            return
        self._ended = end
        self._ending(end)
        if self._on_close is not None:
            self._on_close(end)

    def _ending(self, end: LegEnd) -> None:
        """What the leg itself does once, as it ends (before the owner hears of it)."""

    def _log_fields(self) -> dict[str, Any]:
        return {}

    def _deliver(self, event: codec.Event) -> None:
        on_event = self._on_event
        if on_event is None:
            self._pending.append(event)
            return
        try:
            on_event(event)
        except Exception as exc:  # a bug in the owner must end its call, not the engine
            log.exception(self._handler_failed_event, **self._log_fields())
            self.end(LegEnd(EndKind.HANDLER_FAILED, repr(exc)))
