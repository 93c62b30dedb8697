"""One AudioSocket TCP connection: framed receive, locked sends, keepalive with a read timeout.

The server creates it and binds it to a call by its UUID; from then on the call owns it and
`release()`s it at hang-up, which lets the server's handler close the socket.
"""

from __future__ import annotations

import uuid as uuidlib
from collections import deque

import anyio
import anyio.abc

from ...observability import metrics
from . import codec

SILENCE_20MS_8K = b"\x00" * 320


class AudioSocketConnection:
    def __init__(self, stream: anyio.abc.ByteStream, *, max_payload: int, read_timeout_s: float, peer: str = "?"):
        self._stream = stream
        self._decoder = codec.Decoder(max_payload)
        self._pending: deque[codec.Event] = deque()
        self._send_lock = anyio.Lock(fast_acquire=True)  # no extra yield per frame when uncontended
        self._read_timeout_s = read_timeout_s
        self.peer = peer
        self.uuid: uuidlib.UUID | None = None
        self.audio_kind: codec.Kind | None = None  # first audio kind received: what the leg negotiated
        self.last_activity = self.last_received = anyio.current_time()
        self.released = anyio.Event()
        self.closed = False

    async def receive(self, timeout_s: float | None = None) -> codec.Event:
        """Next frame. Raises `anyio.EndOfStream` when the peer closed, `codec.ProtocolError` on a
        malformed frame, and `TimeoutError` when `timeout_s` is given and nothing arrived for that
        long. Without `timeout_s` it waits as long as it takes: `keepalive()` enforces the read
        timeout, so the hot path arms no timer per 20 ms frame."""
        while not self._pending:
            if timeout_s is None:
                data = await self._stream.receive(65536)
            else:
                with anyio.fail_after(timeout_s):
                    data = await self._stream.receive(65536)
            self.last_activity = self.last_received = anyio.current_time()
            self._pending.extend(self._decoder.feed(data))
        event = self._pending.popleft()
        if isinstance(event, codec.Audio):
            metrics.FRAMES_IN.inc()
            if self.audio_kind is None:
                self.audio_kind = event.kind
        return event

    async def send_audio(self, pcm: bytes, kind: codec.Kind | None = None) -> None:
        frame = codec.encode_audio(pcm, kind or self.audio_kind or codec.Kind.SLIN_8K)
        await self._send(frame)
        metrics.FRAMES_OUT.inc()

    async def send_hangup(self) -> None:
        await self._send(codec.encode_hangup())

    async def _send(self, frame: bytes) -> None:
        async with self._send_lock:
            await self._stream.send(frame)
            self.last_activity = anyio.current_time()

    def silence_frame(self) -> bytes:
        kind = self.audio_kind or codec.Kind.SLIN_8K
        return b"\x00" * (codec.AUDIO_RATES[kind] // 50 * 2)

    async def keepalive(self, interval_s: float) -> None:
        """Send a 20 ms silence frame whenever nothing crossed the socket for `interval_s`
        (Asterisk hangs the leg up after 2 s without a frame in either direction). Raises
        `TimeoutError` once nothing was received for the read timeout: the leg is dead."""
        while True:
            now = anyio.current_time()
            dead_at = self.last_received + self._read_timeout_s
            if now >= dead_at:
                raise TimeoutError(f"nothing received for {self._read_timeout_s} s")
            due = min(self.last_activity + interval_s, dead_at)
            if now < due:
                await anyio.sleep(due - now)
                continue
            await self.send_audio(self.silence_frame())

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            with anyio.CancelScope(shield=True):
                await self._stream.aclose()

    async def release(self) -> None:
        """The owner is done: close the socket (Asterisk sees EOF, AudioSocket() returns)."""
        await self.aclose()
        self.released.set()
