"""A fake local-ai-server: the Realtime protocol subset (docs/protocol.md) over a real WebSocket,
spoken through the same `realtime_protocol` package (strict: a malformed client event gets an
`error` event), with an energy VAD instead of models. Its reply to a caller turn is the caller's own speech
played back (so a test can tell whose reply a caller heard), preceded by a
`response.output_audio_transcript.delta` per piece, as local-ai-server sends them.

Knobs let tests slow the reply down (for barge-in), fail the next connection, or drop a session.

Tools, as the Realtime reference has them: the session's `tools` (validated by the package), a
scripted function call per caller turn (`tool_turns`: the next transcribed turn answers with
`response.function_call_arguments.done` and a `function_call` output item instead of the echo;
a tool the session did not offer is refused, as a model cannot call it), and the engine's
`conversation.item.create` with a `function_call_output` for a call id it was given (any other
id is an `error`), then `response.create`: a reply of AFTER_TOOL_HZ. A user text item (a key
press) is logged and its response is a USER_TEXT_HZ tone.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count

import anyio
import numpy as np
import realtime_protocol as rp
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

SPEECH_RMS = 500.0
AFTER_TOOL_HZ = 700  # the reply after a tool's result
USER_TEXT_HZ = 900  # the reply to a user text item (a key press)
SAYING_HZ = 520  # what the model says in the response that carries a function call


@dataclass
class FakeSessionLog:
    received: list[dict] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    instructions: str = ""
    input_rate: int = 8000
    output_rate: int = 8000
    cancelled: list[str] = field(default_factory=list)
    call_id: str | None = None  # the X-Call-Id header the engine sent
    tools: list[str] = field(default_factory=list)  # names the session offered
    tool_outputs: list[tuple[str, dict | str]] = field(default_factory=list)  # (call_id, parsed output)
    user_texts: list[str] = field(default_factory=list)
    assistant_texts: list[str] = field(default_factory=list)  # said verbatim (greeting, farewell)

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
        tool_turns: list[tuple[str, dict] | None] | None = None,
        transcripts: list[str] | None = None,
    ):
        self.tool_turns = list(tool_turns or [])  # per caller turn: (tool, arguments) or None (echo)
        self.transcripts = list(transcripts or [])  # per caller turn: its transcript (else "<n> ms of speech")
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
        log = FakeSessionLog(call_id=ws.request.headers.get("X-Call-Id") if ws.request else None)
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
        self.pending: tuple[str, int] | None = None  # what the next response.create says, and its tone
        self.calls_made: set[str] = set()

    async def send(self, event) -> None:
        self.log.sent.append(event.to_wire())
        await self.ws.send(rp.serialize(event))

    async def run(self) -> None:
        session_id = f"sess_{next(self.server._ids)}"
        self.session = rp.SessionConfig()
        await self.send(rp.SessionCreated(self.session, session_id, "fake"))
        conn = rp.ServerConnection(input_format=rp.AudioFormat("pcm", 8000))
        async with anyio.create_task_group() as tg:
            self.tg = tg
            async for raw in self.ws:
                self.log.received.append(json.loads(raw))
                try:
                    event = conn.receive(raw)
                except rp.ProtocolError as exc:
                    await self.send(rp.Error.of(exc))
                    continue
                await self.on_event(event, session_id)
            tg.cancel_scope.cancel()

    async def on_event(self, event, session_id: str) -> None:
        match event:
            case rp.SessionUpdate(session=patch):
                self.session = self.session.merged(patch)
                if patch.instructions:
                    self.log.instructions = patch.instructions
                if patch.input_format:
                    self.log.input_rate = patch.input_format.rate
                if patch.output_format:
                    self.log.output_rate = patch.output_format.rate
                if patch.tools is not rp.UNSET:
                    self.log.tools = [t.name for t in patch.tools]
                if patch.turn_detection and patch.turn_detection.silence_duration_ms:
                    self.silence_ms = patch.turn_detection.silence_duration_ms
                await self.send(rp.SessionUpdated(self.session, session_id, "fake"))
            case rp.InputAudioBufferAppend(audio=pcm):
                await self.on_audio(pcm)
            case rp.ConversationItemCreate(item=rp.FunctionCallOutputItem() as item):
                if item.call_id not in self.calls_made:
                    await self.send(rp.Error("invalid_value", f"no function call with call_id {item.call_id}", param="item.call_id"))
                    return
                try:
                    output = json.loads(item.output)
                except ValueError:
                    output = item.output
                self.log.tool_outputs.append((item.call_id, output))
                self.pending = ("tool output", AFTER_TOOL_HZ)
            case rp.ConversationItemCreate(item=rp.MessageItem() as item):
                if item.role == "user":
                    self.log.user_texts.append(item.text)
                    self.pending = (item.text, USER_TEXT_HZ)
                else:
                    self.log.assistant_texts.append(item.text)
                    self.pending = (item.text, 440)
            case rp.ResponseCreate():
                text, hz = self.pending or ("greeting", 440)
                self.pending = None
                pcm = _tone(hz, self.server.greeting_ms, self.log.output_rate)
                self.start_response([(text, pcm)])
            case rp.ResponseCancel():
                if self.response_scope is None:  # as local-ai-server (and OpenAI) answer it
                    await self.send(rp.Error("response_cancel_not_active", "there is no active response to cancel"))
                elif not self.server.ignore_cancel:
                    self.response_scope.cancel()
            case rp.InputAudioBufferClear():
                self.turn.clear()
            case _:
                await self.send(rp.Error("unknown_event", f"unsupported {event.type}"))

    async def on_audio(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        ms = len(samples) * 1000 // self.log.input_rate
        loud = samples.size > 0 and float(np.sqrt(np.mean(samples**2))) > SPEECH_RMS
        if loud:
            if not self.speaking:
                self.speaking = True
                self.turn.clear()
                await self.send(rp.InputAudioBufferSpeechStarted(0, "item"))
                if self.response_scope is not None and not self.server.ignore_cancel:
                    self.response_scope.cancel()  # new speech interrupts, as local-ai-server does
            self.quiet_ms = 0
            self.turn += pcm
        elif self.speaking:
            self.quiet_ms += ms
            self.turn += pcm
            if self.quiet_ms >= self.silence_ms:
                self.speaking = False
                await self.send(rp.InputAudioBufferSpeechStopped(0, "item"))
                heard_ms = (len(self.turn) // 2) * 1000 // self.log.input_rate - self.quiet_ms
                heard = self.server.transcripts.pop(0) if self.server.transcripts else f"{heard_ms} ms of speech"
                await self.send(rp.InputAudioTranscriptionCompleted("item", heard))
                if self.server.tool_turns:
                    step = self.server.tool_turns.pop(0)
                    if step is not None:
                        self.start_function_call(*step)
                        return
                speech = bytes(self.turn[: len(self.turn) - self.quiet_ms * self.log.input_rate // 1000 * 2])
                reply = _resample_naive(speech, self.log.input_rate, self.log.output_rate)
                piece = self.server.piece_ms * self.log.output_rate // 1000 * 2
                pieces = [(f"piece {i}", reply[i : i + piece]) for i in range(0, len(reply), piece)]
                self.start_response(pieces)

    def start_function_call(self, name: str, arguments: dict) -> None:
        if name not in self.log.tools:
            raise AssertionError(f"the fake was scripted to call {name!r}, which the session did not offer")
        scope = anyio.CancelScope()
        self.response_scope = scope
        self.tg.start_soon(self.call_function, scope, name, arguments)

    async def call_function(self, scope: anyio.CancelScope, name: str, arguments: dict) -> None:
        """A response that says a few words, then calls the function (as a model does)."""
        rid = f"resp_{next(self.server._ids)}"
        call_id = f"call_{next(self.server._ids)}"
        args = json.dumps(arguments)
        await self.send(rp.ResponseCreated(rp.ResponseInfo(rid)))
        status = "cancelled"
        with scope:
            pcm = _tone(SAYING_HZ, 300, self.log.output_rate)
            await self.send(rp.ResponseOutputAudioTranscriptDelta(response_id=rid, item_id="item", delta="One moment."))
            await self.send(rp.ResponseOutputAudioDelta(response_id=rid, item_id="item", delta=pcm))
            await self.send(rp.ResponseOutputAudioDone(response_id=rid, item_id="item"))
            item = rp.FunctionCallItem(f"item_{call_id}", call_id, name, args)
            await self.send(rp.ResponseOutputItemAdded(rid, item, 1))
            await self.send(rp.ResponseFunctionCallArgumentsDelta(rid, item.id, call_id, args, 1))
            self.calls_made.add(call_id)
            await self.send(rp.ResponseFunctionCallArgumentsDone(rid, item.id, call_id, name, args, 1))
            await self.send(rp.ResponseOutputItemDone(rid, item, 1))
            status = "completed"
        if self.response_scope is scope:
            self.response_scope = None
        with anyio.CancelScope(shield=True):
            await self.send(rp.ResponseDone(rp.ResponseInfo(rid, status)))

    def start_response(self, pieces: list[tuple[str, bytes]]) -> None:
        if self.response_scope is not None:
            self.response_scope.cancel()
        scope = anyio.CancelScope()
        self.response_scope = scope
        self.tg.start_soon(self.respond, scope, pieces)

    async def respond(self, scope: anyio.CancelScope, pieces: list[tuple[str, bytes]]) -> None:
        rid = f"resp_{next(self.server._ids)}"
        await self.send(rp.ResponseCreated(rp.ResponseInfo(rid)))
        status = "cancelled"
        with scope:
            chunk = self.server.chunk_ms * self.log.output_rate // 1000 * 2
            for text, pcm in pieces:
                await self.send(rp.ResponseOutputAudioTranscriptDelta(response_id=rid, item_id="item", delta=text))
                for i in range(0, len(pcm), chunk):
                    if self.server.chunk_interval_s:
                        await anyio.sleep(self.server.chunk_interval_s)
                    await self.send(rp.ResponseOutputAudioDelta(response_id=rid, item_id="item", delta=pcm[i : i + chunk]))
            await self.send(rp.ResponseOutputAudioDone(response_id=rid, item_id="item"))
            status = "completed"
        if status == "cancelled":
            self.log.cancelled.append(rid)
        if self.response_scope is scope:
            self.response_scope = None
        with anyio.CancelScope(shield=True):
            await self.send(rp.ResponseDone(rp.ResponseInfo(rid, status)))


def _tone(freq: float, ms: int, rate: int, amplitude: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def _resample_naive(pcm: bytes, src: int, dst: int) -> bytes:
    if src == dst:
        return pcm
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n = int(len(x) * dst / src)
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype("<i2").tobytes()
