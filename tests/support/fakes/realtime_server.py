"""A fake local-ai-server: the Realtime protocol subset of DESIGN §4 over a real WebSocket,
with an energy VAD instead of models. Its reply to a caller turn is the caller's own speech
played back (so a test can tell whose reply a caller heard), preceded by a
`response.output_audio_transcript.delta` per piece, as local-ai-server sends them.

Knobs let tests slow the reply down (for barge-in), fail the next connection, or drop a session.
"""

from __future__ import annotations

import base64
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count

import anyio
import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

SPEECH_RMS = 500.0


@dataclass
class FakeSessionLog:
    received: list[dict] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    instructions: str = ""
    input_rate: int = 8000
    output_rate: int = 8000
    cancelled: list[str] = field(default_factory=list)

    def types_sent(self) -> list[str]:
        return [m["type"] for m in self.sent]


class FakeRealtimeServer:
    def __init__(
        self,
        *,
        piece_ms: int = 400,
        chunk_ms: int = 100,
        chunk_interval_s: float = 0.0,
        greeting_ms: int = 600,
        ignore_cancel: bool = False,
    ):
        self.ignore_cancel = ignore_cancel  # a misbehaving server that keeps streaming after a cancel
        self.piece_ms = piece_ms
        self.chunk_ms = chunk_ms
        self.chunk_interval_s = chunk_interval_s  # > 0 makes replies stream slowly (barge-in tests)
        self.greeting_ms = greeting_ms
        self.sessions: list[FakeSessionLog] = []
        self._connections: list[ServerConnection] = []
        self.port: int | None = None
        self.token: str | None = None
        self._ids = count(1)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @asynccontextmanager
    async def running(self):
        await self.start()
        try:
            yield self
        finally:
            await self.kill()

    async def start(self) -> None:
        """Listen (again) on the same port."""
        self._server = await serve(self._handler, "127.0.0.1", self.port or 0, process_request=self._check_auth)
        self.port = self._server.sockets[0].getsockname()[1]

    async def kill(self) -> None:
        """The server goes away: listener closed, every session dropped."""
        server, self._server = getattr(self, "_server", None), None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def drop_session(self, index: int) -> None:
        """Close one session's WebSocket (the others go on)."""
        await self._connections[index].close(1011, "dropped by test")

    def _check_auth(self, connection, request):
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return connection.respond(401, "Unauthorized\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        log = FakeSessionLog()
        self.sessions.append(log)
        self._connections.append(ws)
        state = _Session(self, ws, log)
        try:
            await state.run()
        except* ConnectionClosed:
            pass  # the engine went away, with or without a close frame (kill -9)


class _Session:
    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection, log: FakeSessionLog):
        self.server = server
        self.ws = ws
        self.log = log
        self.silence_ms = 500
        self.speaking = False
        self.quiet_ms = 0
        self.turn = bytearray()
        self.response_scope: anyio.CancelScope | None = None

    async def send(self, msg: dict) -> None:
        self.log.sent.append(msg)
        await self.ws.send(json.dumps(msg))

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": {"id": f"sess_{next(self.server._ids)}"}})
        async with anyio.create_task_group() as tg:
            self.tg = tg
            async for raw in self.ws:
                msg = json.loads(raw)
                self.log.received.append(msg)
                await self.on_message(msg)
            tg.cancel_scope.cancel()

    async def on_message(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "session.update":
            sess = msg.get("session", {})
            self.log.instructions = sess.get("instructions", "")
            audio = sess.get("audio", {})
            self.log.input_rate = audio.get("input", {}).get("format", {}).get("rate", 8000)
            self.log.output_rate = audio.get("output", {}).get("format", {}).get("rate", 8000)
            td = audio.get("input", {}).get("turn_detection") or {}
            self.silence_ms = td.get("silence_duration_ms", 500)
            await self.send({"type": "session.updated", "session": sess})
        elif kind == "input_audio_buffer.append":
            await self.on_audio(base64.b64decode(msg["audio"]))
        elif kind == "conversation.item.create":
            item = msg.get("item", {})
            self.pending_text = " ".join(c.get("text", "") for c in item.get("content", []))
        elif kind == "response.create":
            pcm = _tone(440, self.server.greeting_ms, self.log.output_rate)
            self.start_response([(getattr(self, "pending_text", "greeting"), pcm)])
        elif kind == "response.cancel":
            if self.response_scope is None:  # as local-ai-server (and OpenAI) answer it
                await self.send({"type": "error", "error": {"type": "invalid_request_error", "code": "response_cancel_not_active",
                                                            "message": "there is no active response to cancel"}})
            elif not self.server.ignore_cancel:
                self.response_scope.cancel()
        elif kind == "input_audio_buffer.clear":
            self.turn.clear()
        else:
            await self.send({"type": "error", "error": {"type": "invalid_request_error", "message": f"unknown {kind}"}})

    async def on_audio(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        ms = len(samples) * 1000 // self.log.input_rate
        loud = samples.size > 0 and float(np.sqrt(np.mean(samples**2))) > SPEECH_RMS
        if loud:
            if not self.speaking:
                self.speaking = True
                self.turn.clear()
                await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "item"})
                if self.response_scope is not None and not self.server.ignore_cancel:
                    self.response_scope.cancel()  # new speech interrupts, as local-ai-server does
            self.quiet_ms = 0
            self.turn += pcm
        elif self.speaking:
            self.quiet_ms += ms
            self.turn += pcm
            if self.quiet_ms >= self.silence_ms:
                self.speaking = False
                await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 0, "item_id": "item"})
                heard_ms = (len(self.turn) // 2) * 1000 // self.log.input_rate - self.quiet_ms
                await self.send(
                    {
                        "type": "conversation.item.input_audio_transcription.completed",
                        "item_id": "item",
                        "content_index": 0,
                        "transcript": f"{heard_ms} ms of speech",
                    }
                )
                speech = bytes(self.turn[: len(self.turn) - self.quiet_ms * self.log.input_rate // 1000 * 2])
                reply = _resample_naive(speech, self.log.input_rate, self.log.output_rate)
                piece = self.server.piece_ms * self.log.output_rate // 1000 * 2
                pieces = [(f"piece {i}", reply[i : i + piece]) for i in range(0, len(reply), piece)]
                self.start_response(pieces)

    def start_response(self, pieces: list[tuple[str, bytes]]) -> None:
        if self.response_scope is not None:
            self.response_scope.cancel()
        scope = anyio.CancelScope()
        self.response_scope = scope
        self.tg.start_soon(self.respond, scope, pieces)

    async def respond(self, scope: anyio.CancelScope, pieces: list[tuple[str, bytes]]) -> None:
        rid = f"resp_{next(self.server._ids)}"
        await self.send({"type": "response.created", "response": {"id": rid, "status": "in_progress"}})
        status = "cancelled"
        with scope:
            chunk = self.server.chunk_ms * self.log.output_rate // 1000 * 2
            for text, pcm in pieces:
                await self.send({"type": "response.output_audio_transcript.delta", "response_id": rid, "delta": text})
                for i in range(0, len(pcm), chunk):
                    if self.server.chunk_interval_s:
                        await anyio.sleep(self.server.chunk_interval_s)
                    delta = base64.b64encode(pcm[i : i + chunk]).decode()
                    await self.send({"type": "response.output_audio.delta", "response_id": rid, "delta": delta})
            await self.send({"type": "response.output_audio.done", "response_id": rid})
            status = "completed"
        if status == "cancelled":
            self.log.cancelled.append(rid)
        if self.response_scope is scope:
            self.response_scope = None
        with anyio.CancelScope(shield=True):
            await self.send({"type": "response.done", "response": {"id": rid, "status": status}})


def _tone(freq: float, ms: int, rate: int, amplitude: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def _resample_naive(pcm: bytes, src: int, dst: int) -> bytes:
    if src == dst:
        return pcm
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n = int(len(x) * dst / src)
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype("<i2").tobytes()
