"""Stream mode: agent audio as 20 ms AudioSocket frames on the call's playback leg (an
externalMedia `encapsulation=audiosocket` channel in the call bridge, docs/architecture.md §2.4).

The engine's `MediaClock` asks every stream output for one frame per 20 ms tick (`tick()`,
sync): silence when idle or on underrun, in the frame kind the leg negotiated; the clock keeps
the deadlines (no drift, no bursts). What Asterisk sends on this leg (the caller and any file
playback, snoop F22) is validated and dropped, never recognised: only its end (EOF, a hang-up
frame, a malformed frame) and its frame kind matter, so a leg that offers batched reading (an
AudioSocket connection's or a chan_websocket leg's `poll()`; not RTP: each datagram is a read
anyway) is read every `POLL_TICKS` ticks, not per frame. A leg that
closes, fails a send or stops reading for `SEND_STALL_S` raises `StreamFailed` out of `run()`;
`FallbackOutput` then switches to files, with what was queued and not sent.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from voice_common.resample import StreamResampler

from ..observability import metrics
from ..observability.logs import get_logger
from ..transports.audiosocket import codec
from ..transports.audiosocket.connection import AudioSocketConnection, EndKind, LegEnd
from .media_clock import MediaClock
from .stream_buffer import StreamBuffer

log = get_logger(__name__)
SEND_STALL_S = 1.0
POLL_TICKS = 10  # the leg's inbound audio is read every 200 ms (its end is noticed that late at most)


class StreamFailed(Exception):
    pass


class StreamOutput:
    mode = "stream"

    def __init__(
        self, conn: AudioSocketConnection, kind: codec.Kind, media: MediaClock, start_ms: int = 60, call_id: str | None = None
    ):
        self.conn = conn
        self._log = log.bind(call_id=call_id)  # ticks run in the media clock's task, not the call's
        self.kind = kind
        self.rate = codec.AUDIO_RATES[kind]
        self.media = media
        self._start_ms = start_ms
        self.buffer = StreamBuffer(self.rate, start_ms)
        self._resamplers: dict[int, StreamResampler] = {}
        self._stale: set[str] = set()
        self._talking_since: float | None = None
        self._last_response = ""
        self.on_first_audio: Callable[[str], None] | None = None
        self.on_frame_sent: Callable[[bool], None] | None = None  # tests and benchmarks
        self.frames_sent = 0
        self._poll: Callable[[], None] | None = getattr(conn, "poll", None)  # batched reading, where offered
        self._until_poll = POLL_TICKS
        self._failed = anyio.Event()
        self._failure = ""

    @property
    def talking(self) -> bool:
        return self.buffer.active

    @property
    def talking_since(self) -> float | None:
        return self._talking_since if self.buffer.active else None

    def audio(self, response_id: str, pcm: bytes, rate: int) -> None:
        if response_id in self._stale:
            return
        new_reply = response_id != self._last_response  # its first frame out is announced (turn timing)
        self._last_response = response_id
        resampler = self._resamplers.get(rate)
        if resampler is None:
            resampler = self._resamplers[rate] = StreamResampler(rate, self.rate)
        self.buffer.push(resampler.process_bytes(pcm), new_reply)

    def text_boundary(self, response_id: str) -> None:
        pass

    def response_done(self, response_id: str) -> None:
        if response_id == self._last_response:
            self.buffer.end_reply()

    async def stop(self, response_id: str | None) -> bool:
        if response_id is not None:
            self._stale.add(response_id)
        was_talking = self.buffer.active
        self.buffer.clear()  # the next 20 ms tick sends silence
        self._resamplers.clear()  # their filters still hold the cut reply's last samples
        self._talking_since = None
        return was_talking

    def take_pending(self) -> tuple[str, bytes, int]:
        """What was queued but not yet sent (for the fall-back to files)."""
        pending = bytes(self.buffer._buf)  # noqa: SLF001 - same package
        self.buffer.clear()
        return self._last_response, pending, self.rate

    async def run(self) -> None:
        """Streams until cancelled; raises `StreamFailed` if the leg fails."""
        if not self._failed.is_set():
            if self._poll is not None:
                self.conn.attach(self._on_inbound, self._on_leg_end, keep_audio=False, batched=True)
            else:
                self.conn.attach(self._on_inbound, self._on_leg_end, keep_audio=False)
            self.media.add_stream(self)
            try:
                await self._failed.wait()
            finally:
                self.media.remove_stream(self)
                self.conn.detach()
        raise StreamFailed(self._failure)

    def tick(self, now: float) -> bool:
        """One 20 ms frame, called by the media clock; True if a frame was written."""
        conn = self.conn
        self._until_poll -= 1
        if not self._until_poll:
            self._until_poll = POLL_TICKS
            if self._poll is not None:
                self._poll()
        if conn.write_paused_since is not None:  # the peer stopped reading: hold the audio back
            if anyio.current_time() - conn.write_paused_since >= SEND_STALL_S:
                self._fail(f"playback leg send stalled for {SEND_STALL_S} s")
            return False
        if conn.last_audio_kind is not None and conn.last_audio_kind != self.kind and not self.buffer.active:
            self._adopt(conn.last_audio_kind)
        buffer = self.buffer
        frame, is_audio = buffer.next_frame()
        if is_audio:
            if self._talking_since is None or buffer.reply_began:
                if self._talking_since is None:
                    self._talking_since = now
                if self.on_first_audio is not None:
                    self.on_first_audio(self.mode)
        elif self._talking_since is not None and not buffer.active:
            self._talking_since = None
        try:
            conn.send_audio(frame, self.kind)
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            if is_audio:
                buffer.unread(frame)  # not heard: it goes to the file fall-back
            self._fail(f"playback leg send failed: {exc!r}")
            return False
        self.frames_sent += 1
        if buffer.underran:
            metrics.UNDERRUNS.inc()
        if self.on_frame_sent is not None:
            self.on_frame_sent(is_audio)
        return True

    def _adopt(self, kind: codec.Kind) -> None:
        """The leg negotiated another kind than asked for: stream in that one."""
        self._log.warning("stream.kind_changed", requested=hex(self.kind), negotiated=hex(kind))
        self.kind, self.rate = kind, codec.AUDIO_RATES[kind]
        self.buffer = StreamBuffer(self.rate, self._start_ms)
        self._resamplers.clear()

    def _on_inbound(self, event: codec.Event) -> None:
        if type(event) is codec.Hangup:
            self._fail("playback leg hung up")

    def _on_leg_end(self, end: LegEnd) -> None:
        if end.kind is EndKind.CLOSED:
            self._fail("playback leg closed")
        elif end.kind is EndKind.MALFORMED:
            self._fail(f"playback leg sent a malformed frame: {end.detail}")
        else:
            self._fail(f"playback leg ended: {end}")

    def _fail(self, reason: str) -> None:
        if not self._failed.is_set():
            self._failure = reason
            self._failed.set()
            self.media.remove_stream(self)  # no more ticks: what is queued stays for the files

    async def close(self) -> None:
        await self.stop(None)
