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

from collections.abc import Callable
from typing import Protocol

from .audiosocket import codec
from .audiosocket.connection import EndKind, LegEnd

EventSink = Callable[[codec.Event], None]
CloseSink = Callable[[LegEnd], None]

__all__ = ["CloseSink", "EndKind", "EventSink", "LegEnd", "MediaLeg"]


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
