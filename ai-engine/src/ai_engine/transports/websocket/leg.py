"""One chan_websocket media leg at the I/O edge: the engine connects to Asterisk's own HTTP server at
`<media_url><MEDIA_WEBSOCKET_CONNECTION_ID>` (externalMedia `connection_type=server`: Asterisk waits,
no credentials, no subprotocol, more/ M15-M17), as an asyncio Protocol over wsproto (sans-IO
WebSocket framing) speaking `codec.py` for the control messages. No task per leg or per frame.
Asterisk's audio frames are read by `frames.InboundFrames` (wsproto's general path was about 30 %
of the engine's CPU at 400 calls); every other frame still goes to wsproto, whole.

Binary messages from Asterisk are 20 ms of little-endian slin (M19) and reach the owner as `Audio`
events (`transports/leg.py`); DTMF_END becomes a `Dtmf` event (M20). What we send is one binary
message per `send_audio()` (the engine's media clock calls it every 20 ms, so Asterisk's queue stays
near empty and a barge-in needs no FLUSH_MEDIA), framed by `frames.py`, not wsproto; MEDIA_XOFF
sets `write_paused_since` until MEDIA_XON (M27), so the stream output holds audio back as it does
for a full TCP buffer. A stream-mode playback leg, whose inbound audio (the bridge's mix) is
dropped, is read in batches as an AudioSocket one is (`attach(..., batched=True)`, then `poll()`
every few ticks): one read and one wsproto pass per 200 ms instead of ten of each; its control
messages and its end are seen at the next poll. Every message is bounded (`max_message_bytes`);
a violation ends the leg ("malformed: ...").
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

import anyio
from wsproto import ConnectionState, ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from voice_common.resample import StreamResampler

from ...observability import metrics
from ...observability.logs import get_logger
from ..audiosocket import codec as frames
from ..leg import EndKind, LegEnd, OwnedLeg
from . import codec
from .frames import InboundFrames, MaskedBinaryEncoder, Passed

log = get_logger(__name__)

WRITE_HIGH_WATER = 65536
MAX_HEAD = 16384  # the upgrade answer's head


class WebSocketLeg(OwnedLeg, asyncio.Protocol):
    _handler_failed_event = "websocket_media.handler_failed"

    def __init__(self, target: str, host: str, fmt: str, *, max_message: int = 65536):
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._media_frames = MaskedBinaryEncoder()  # our agent audio out (frames.py); the rest is wsproto's
        self._target, self._host = target, host
        self.rate = codec.FORMAT_RATES[fmt]
        self.kind = frames.KIND_FOR_RATE[self.rate]
        self._max_message = max_message
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._text: list[str] = []
        self._head = bytearray()  # the upgrade answer, until whole
        self._inbound: InboundFrames | None = None  # frames after the upgrade (frames.py)
        self._binary = bytearray()
        self._init_owner()
        self._resamplers: dict[int, StreamResampler] = {}
        self.started: asyncio.Future[codec.MediaStart] = self._loop.create_future()
        self.closed = False
        self.last_activity = self.last_received = self._loop.time()
        self.write_paused_since: float | None = None
        self.xoff = False
        self._frames_in = 0
        self._batched = False  # the owner reads in batches: reading pauses after each read until poll()
        self._parked = False  # paused until the owner's next poll()
        self.control: list[codec.Event] = []  # control events seen (bounded), for status and tests

    # ---- MediaLeg ------------------------------------------------------------------------

    @property
    def audio_kind(self) -> frames.Kind:
        return self.kind

    last_audio_kind = audio_kind

    def send_audio(self, pcm: bytes, kind: frames.Kind | None = None) -> None:
        if self.closed or self._transport is None:
            raise anyio.ClosedResourceError
        if kind is not None and kind != self.kind:
            resampler = self._resamplers.get(kind)
            if resampler is None:
                resampler = self._resamplers[kind] = StreamResampler(frames.AUDIO_RATES[kind], self.rate)
            pcm = resampler.process_bytes(pcm)
            if not pcm:
                return
        if not self._transport.is_closing():
            self._transport.write(self._media_frames.encode(pcm))
        self.last_activity = self._loop.time()

    def attach(self, on_event, on_close, *, keep_audio: bool = True, batched: bool = False) -> None:
        """`OwnedLeg.attach`; `batched` (only with `keep_audio=False`): reading pauses after each
        read until the owner's next `poll()`."""
        if batched and keep_audio:
            raise ValueError("batched reading is for legs whose audio is dropped (keep_audio=False)")
        self._batched = batched
        super().attach(on_event, on_close, keep_audio=keep_audio)

    def detach(self) -> None:
        super().detach()
        self._batched = False
        self.poll()

    def poll(self) -> None:
        """Batched reading: take in what arrived since the last poll (one read, soon)."""
        if self._parked:
            self._parked = False
            if not self.closed and self._transport is not None:
                self._transport.resume_reading()

    def send_command(self, name: str, argument: str | None = None) -> None:
        if not self.closed:
            self._send(TextMessage(data=codec.command(name, argument)))

    def silence_frame(self) -> bytes:
        return b"\x00" * (self.rate // 50 * 2)

    def _ending(self, end: LegEnd) -> None:
        if not self.started.done():
            self.started.set_exception(ConnectionError(f"media WebSocket ended: {end}"))

    def release(self) -> None:
        """Close with code 1000 (what Asterisk sends and expects, M31)."""
        self.detach()
        if not self.closed:
            self.closed = True
            try:
                self._send(CloseConnection(code=1000))
            except LocalProtocolError:
                pass
            if self._transport is not None:
                self._transport.close()

    # ---- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self._transport.write(self._ws.send(Request(host=self._host, target=self._target)))

    def data_received(self, data: bytes) -> None:
        self._frames_in = 0
        try:
            if self._inbound is None:
                data = self._handshake(data)
            if data:
                for frame in self._inbound.receive(data):
                    if self.closed:
                        break
                    if type(frame) is Passed:
                        self._wsproto(frame)
                    else:
                        self._audio(frame)
                if self._inbound.error is not None and not self.closed:
                    self._violation(str(self._inbound.error))
        except RemoteProtocolError as exc:
            self._violation(str(exc))
        if self._frames_in:
            metrics.FRAMES_IN.inc(self._frames_in)  # once per read, not per frame
        if self._batched and not self._parked and not self.closed:
            self._parked = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.end(LegEnd(EndKind.CLOSED))

    def pause_writing(self) -> None:
        self.write_paused_since = self.write_paused_since or self._loop.time()

    def resume_writing(self) -> None:
        if not self.xoff:
            self.write_paused_since = None

    # ---- internals -----------------------------------------------------------------------

    def _handshake(self, data: bytes) -> bytes:
        """Until the upgrade answer's head is whole, bytes gather here (bounded); the head goes to
        wsproto, and once it has accepted, what follows is frames for `InboundFrames`."""
        self._head += data
        end = self._head.find(b"\r\n\r\n")  # Asterisk ends its head with CRLF CRLF (h11 would also take LF LF)
        if end < 0:
            if len(self._head) > MAX_HEAD:
                self._violation(f"upgrade answer over {MAX_HEAD} bytes")
            return b""
        head, rest = bytes(self._head[: end + 4]), bytes(self._head[end + 4 :])
        self._head = bytearray()
        self._wsproto(head)
        if self._ws.state is ConnectionState.OPEN:
            self._inbound = InboundFrames(self._max_message)
            return rest
        if rest and not self.closed:
            self._wsproto(rest)
        return b""

    def _wsproto(self, data: bytes) -> None:
        self._ws.receive_data(data)
        for event in self._ws.events():
            self._handle(event)

    def _handle(self, event) -> None:
        if isinstance(event, BytesMessage):
            self._binary += event.data
            if len(self._binary) > self._max_message:
                return self._violation(f"binary message over {self._max_message} bytes")
            if event.message_finished:
                pcm, self._binary = bytes(self._binary), bytearray()
                self._audio(pcm)
        elif isinstance(event, TextMessage):
            self._text.append(event.data)
            if sum(map(len, self._text)) > codec.MAX_TEXT:
                return self._violation("text message too long")
            if event.message_finished:
                text, self._text = "".join(self._text), []
                self._control(text)
        elif isinstance(event, AcceptConnection):
            log.info("websocket_media.connected", target=self._target)
        elif isinstance(event, RejectConnection):
            self._close_transport()
            self.end(LegEnd(EndKind.CLOSED, f"upgrade refused with HTTP {event.status_code}"))
        elif isinstance(event, Ping):
            self._send(event.response())
        elif isinstance(event, CloseConnection):
            try:
                self._send(event.response())
            except LocalProtocolError:
                pass
            self._close_transport()
            self.end(LegEnd(EndKind.CLOSED))

    def _audio(self, pcm: bytes) -> None:
        if not pcm or len(pcm) % 2:
            return self._violation(f"binary message of {len(pcm)} bytes is not whole samples")
        self.last_received = self.last_activity = self._loop.time()
        self._frames_in += 1
        if self._keep_audio or self._on_event is None:
            self._deliver(frames.Audio(self.kind, pcm))

    def _control(self, text: str) -> None:
        try:
            event = codec.parse(text)
        except codec.ProtocolError as exc:
            metrics.MEDIA_PACKETS_DROPPED.labels("websocket", "malformed").inc()
            log.warning("websocket_media.bad_control", error=str(exc))
            return
        if len(self.control) < 256:
            self.control.append(event)
        if isinstance(event, codec.MediaStart):
            if event.format in codec.FORMAT_RATES and codec.FORMAT_RATES[event.format] != self.rate:
                self.rate = codec.FORMAT_RATES[event.format]
                self.kind = frames.KIND_FOR_RATE[self.rate]
            if not self.started.done():
                self.started.set_result(event)
        elif isinstance(event, codec.Xoff):
            self.xoff = True
            self.write_paused_since = self.write_paused_since or self._loop.time()
        elif isinstance(event, codec.Xon):
            self.xoff = False
            self.write_paused_since = None
        elif isinstance(event, codec.DtmfEnd):
            if event.digit and event.digit in "0123456789*#ABCDabcd":
                self._deliver(frames.Dtmf(event.digit))
        elif isinstance(event, codec.Error):
            log.warning("websocket_media.error", error_text=event.text)


    def _violation(self, why: str) -> None:
        log.warning("websocket_media.protocol_error", error=why)
        self._close_transport()
        self.end(LegEnd(EndKind.MALFORMED, why))

    def _send(self, event) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(self._ws.send(event))

    def _close_transport(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


async def connect(base_url: str, connection_id: str, fmt: str, *, timeout_s: float, max_message: int) -> WebSocketLeg:
    """Connect to `<base_url><connection_id>` and wait for MEDIA_START (M17), bounded."""
    parts = urlsplit(base_url.rstrip("/") + "/" + connection_id)
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    loop = asyncio.get_running_loop()
    host = parts.hostname or "127.0.0.1"
    leg: WebSocketLeg | None = None
    try:
        with anyio.fail_after(timeout_s):
            _, leg = await loop.create_connection(
                lambda: WebSocketLeg(parts.path, f"{host}:{port}", fmt, max_message=max_message),
                host,
                port,
                ssl=ssl.create_default_context() if secure else None,
            )
            await leg.started
    except BaseException:
        if leg is not None:
            leg.release()
        raise
    return leg


def media_url(ari_url: str, configured: str | None) -> str:
    """`websocket.media_url`, or Asterisk's HTTP server of ari.url with /media/ (M16)."""
    if configured:
        return configured if configured.endswith("/") else configured + "/"
    parts = urlsplit(ari_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/media/"
