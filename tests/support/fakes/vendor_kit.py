"""What the vendor fakes share: a loopback WebSocket server with test knobs (drop a session,
kill the server), an energy VAD deciding the caller's turns, and test audio. Each fake's reply
to a turn is the caller's own speech played back (so a test can tell whose reply it heard); a
greeting is a 440 Hz tone."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import numpy as np
from voice_common.pcm import ulaw_decode as _ulaw_decode, ulaw_encode as _ulaw_encode
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bench.ports import free_port

SPEECH_RMS = 500.0
GREETING_HZ = 440
AFTER_TOOL_HZ = 700  # a fake's reply once it got a tool's result
USER_TEXT_HZ = 900  # a fake's reply to a user text turn (a key press)


@dataclass
class SessionLog:
    """What one connection saw: every client message (JSON, or `bytes` for binary audio), what
    the fake sent, and the errors it answered."""

    received: list = field(default_factory=list)
    sent: list = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    input_rate: int = 0
    audio_in: int = 0  # caller audio bytes received (decoded s16le)
    cancelled: int = 0  # replies cut short (by the client or by caller speech)
    first_audio: list[float] = field(default_factory=list)  # when each reply's first audio went out (bench)
    headers: dict = field(default_factory=dict)
    path: str = ""
    tools: list[str] = field(default_factory=list)  # function names the client offered
    calls_made: dict[str, str] = field(default_factory=dict)  # call id -> function name, asked by the fake
    tool_outputs: list[tuple[str, object]] = field(default_factory=list)  # (call id, result) the client sent
    user_texts: list[str] = field(default_factory=list)
    agent_texts: list[str] = field(default_factory=list)  # said verbatim mid-call

    def json_received(self, key: str = "type") -> list:
        return [m.get(key) if key != "*" else m for m in self.received if isinstance(m, dict)]


def next_tool_step(server: FakeVendorServer, log: SessionLog) -> tuple[str, dict] | None:
    """The function call scripted for this caller turn, if any; a function the client did not
    offer cannot be called (a model only calls what it was given): that is a recorded error."""
    step = server.tool_turns.pop(0) if server.tool_turns else None
    if step is not None and step[0] not in log.tools:
        log.errors.append(f"scripted call of {step[0]!r}, which was not offered (offered: {log.tools})")
        return None
    return step


class FakeVendorServer:
    path = "/"

    def __init__(
        self,
        *,
        key: str = "test-key",
        chunk_ms: int = 100,
        chunk_interval_s: float = 0.0,
        greeting_ms: int = 600,
        tool_turns: list[tuple[str, dict] | None] | None = None,
    ):
        self.key = key
        self.tool_turns = list(tool_turns or [])  # per caller turn: (function, arguments) the model calls, or None
        self.chunk_ms = chunk_ms
        self.chunk_interval_s = chunk_interval_s  # > 0: replies stream slowly (barge-in tests)
        self.greeting_ms = greeting_ms
        self.sessions: list[SessionLog] = []
        self.connections: list[ServerConnection] = []
        self.port = free_port()  # known before the server runs: the engine's settings name it
        self._server = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    @asynccontextmanager
    async def running(self):
        self._server = await serve(self._handler, "127.0.0.1", self.port, process_request=self._process_request)
        try:
            yield self
        finally:
            self._server.close()
            await self._server.wait_closed()

    async def drop_session(self, index: int) -> None:
        """The vendor's side goes away mid-call (no goodbye message)."""
        await self.connections[index].close(1011, "dropped by test")

    def _process_request(self, connection, request):
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        log = SessionLog(headers=dict(ws.request.headers), path=ws.request.path)
        self.sessions.append(log)
        self.connections.append(ws)
        try:
            await self.serve_session(ws, log)
        except* ConnectionClosed:
            pass

    async def serve_session(self, ws: ServerConnection, log: SessionLog) -> None:
        raise NotImplementedError


class TurnDetector:
    """Energy VAD: 'start' on loud audio, 'stop' after `silence_ms` of quiet; `turn` holds the speech."""

    def __init__(self, rate: int, silence_ms: int = 500):
        self.rate = rate
        self.silence_ms = silence_ms
        self.speaking = False
        self.quiet_ms = 0
        self.turn = bytearray()

    def feed(self, pcm: bytes) -> str | None:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        ms = len(samples) * 1000 // self.rate
        loud = samples.size > 0 and float(np.sqrt(np.mean(samples**2))) > SPEECH_RMS
        if loud:
            self.quiet_ms = 0
            self.turn += pcm
            if not self.speaking:
                self.speaking = True
                self.turn = bytearray(pcm)
                return "start"
        elif self.speaking:
            self.quiet_ms += ms
            self.turn += pcm
            if self.quiet_ms >= self.silence_ms:
                self.speaking = False
                return "stop"
        return None

    def speech(self) -> bytes:
        """The last turn without its trailing silence, nor the leading silence of its first
        message (the client batches frames: a reply must not start with a gap the caller never made)."""
        pcm = bytes(self.turn[: max(0, len(self.turn) - self.quiet_ms * self.rate // 1000 * 2)])
        samples = np.frombuffer(pcm, dtype="<i2")
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SPEECH_RMS)
        return pcm[int(loud[0]) * 2 :] if loud.size else pcm

    def speech_ms(self) -> int:
        return len(self.speech()) // 2 * 1000 // self.rate


def tone(freq: float, ms: int, rate: int, amplitude: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def resample(pcm: bytes, src: int, dst: int) -> bytes:
    if src == dst:
        return pcm
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n = int(len(x) * dst / src)
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype("<i2").tobytes()


def chunks(pcm: bytes, rate: int, ms: int) -> list[bytes]:
    step = rate * ms // 1000 * 2
    return [pcm[i : i + step] for i in range(0, len(pcm), step)]


def unknown_keys(obj: object, allowed: set[str]) -> list[str]:
    return sorted(set(obj) - allowed) if isinstance(obj, dict) else ["<not an object>"]


def ulaw_decode(data: bytes) -> bytes:
    """The fakes' G.711 is local-ai-server's, not the engine's: two implementations must agree."""
    return _ulaw_decode(data).astype("<i2").tobytes()


def ulaw_encode(pcm: bytes) -> bytes:
    return _ulaw_encode(np.frombuffer(pcm, dtype="<i2"))
