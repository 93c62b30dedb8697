"""Client of the OpenAI Realtime protocol subset (DESIGN §4; docs/protocol.md).

One WebSocket per call. Caller audio (`push_audio`, sync, from the capture leg's receive
callback) is queued, bounded, and one sender task per session sends it as
`input_audio_buffer.append`, several frames in one message when it fell behind. Server events
come back as provider events. Audio of a response we cancelled is dropped here too, so a late
delta can never reach the caller.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ..concurrency import single_error
from ..config import ProviderSettings
from ..observability import metrics
from ..observability.logs import get_logger
from . import base

log = get_logger(__name__)

MAX_QUEUED_FRAMES = 100  # caller audio waiting to be sent (2 s of 20 ms frames); the oldest goes first
MAX_FRAMES_PER_MESSAGE = 25  # one append carries at most this many queued frames (500 ms)


class RealtimeProvider:
    def __init__(self, name: str, settings: ProviderSettings):
        self.name = name
        self.settings = settings
        self._ready_cache: tuple[float, bool] = (-1e9, False)

    @asynccontextmanager
    async def session(self, options: base.SessionOptions) -> AsyncIterator[RealtimeSession]:
        headers = {}
        if self.settings.auth_token is not None:
            headers["Authorization"] = f"Bearer {self.settings.auth_token.get_secret_value()}"
        try:
            with anyio.fail_after(self.settings.connect_timeout_s):
                ws = await connect(
                    self.settings.url,
                    additional_headers=headers,
                    max_size=self.settings.max_message_bytes,
                    open_timeout=self.settings.connect_timeout_s,
                    close_timeout=1,
                )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            metrics.PROVIDER_ERRORS.labels(self.name, "connect").inc()
            raise base.ProviderUnavailable(f"{self.name}: cannot connect: {exc!r}") from None
        session = RealtimeSession(self.name, ws, self.settings, options)
        try:
            await session.start()
            yield session
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                await ws.close()

    async def ready(self) -> bool:
        """Readiness from the provider's health URL, cached for 2 s."""
        url = self.settings.health_url
        if url is None:
            return True
        checked_at, ok = self._ready_cache
        now = anyio.current_time()
        if now - checked_at < 2.0:
            return ok
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                ok = (await client.get(url)).status_code == 200
        except httpx.HTTPError:
            ok = False
        self._ready_cache = (now, ok)
        return ok


class RealtimeSession:
    def __init__(self, name: str, ws: ClientConnection, settings: ProviderSettings, options: base.SessionOptions):
        self.name = name
        self._ws = ws
        self._settings = settings
        self._options = options
        self.input_rate = settings.input_rate
        self._current_response: str | None = None
        self._cancelled: set[str] = set()
        self._outgoing: deque[bytes] = deque()
        self._has_audio = anyio.Event()
        self.dropped_frames = 0

    async def start(self) -> None:
        with anyio.fail_after(self._settings.connect_timeout_s):
            first = await self._receive_json()
        if first.get("type") != "session.created":
            raise base.ProviderUnavailable(f"{self.name}: expected session.created, got {first.get('type')!r}")
        fmt_in = {"type": "audio/pcm", "rate": self._settings.input_rate}
        fmt_out = {"type": "audio/pcm", "rate": self._settings.output_rate}
        session: dict[str, Any] = {
            "type": "realtime",
            "instructions": self._options.instructions,
            "audio": {
                "input": {
                    "format": fmt_in,
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": self._settings.silence_duration_ms},
                },
                "output": {"format": fmt_out},
            },
        }
        if self._options.voice:
            session["audio"]["output"]["voice"] = self._options.voice
        if self._settings.model:
            session["model"] = self._settings.model
        await self._send({"type": "session.update", "session": session})

    def push_audio(self, pcm: bytes) -> None:
        outgoing = self._outgoing
        if len(outgoing) >= MAX_QUEUED_FRAMES:  # the provider is not keeping up: bounded, drop the oldest
            outgoing.popleft()
            self.dropped_frames += 1
            if self.dropped_frames % 50 == 1:
                log.warning("provider.audio_dropped", provider=self.name, frames=self.dropped_frames)
        outgoing.append(pcm)
        self._has_audio.set()

    async def send_audio(self, pcm: bytes) -> None:
        await self._send({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode("ascii")})

    async def _send_queued_audio(self) -> None:
        outgoing = self._outgoing
        while True:
            await self._has_audio.wait()
            self._has_audio = anyio.Event()
            while outgoing:
                n = min(len(outgoing), MAX_FRAMES_PER_MESSAGE)
                chunk = outgoing.popleft() if n == 1 else b"".join([outgoing.popleft() for _ in range(n)])
                await self.send_audio(chunk)

    async def run(self, deliver: base.EventSink) -> None:
        with single_error(base.ProviderUnavailable):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._send_queued_audio)
                async for event in self.events():
                    deliver(event)
                tg.cancel_scope.cancel()

    async def say(self, text: str) -> None:
        await self._send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]},
            }
        )
        await self._send({"type": "response.create"})

    async def cancel_response(self) -> None:
        if self._current_response is not None:
            self._cancelled.add(self._current_response)
        await self._send({"type": "response.cancel"})

    async def events(self) -> AsyncIterator[base.ProviderEvent]:
        while True:
            try:
                message = await self._receive_json()
            except ConnectionClosed:
                raise base.ProviderUnavailable(f"{self.name}: session closed") from None
            event = self._translate(message)
            if event is not None:
                yield event

    def _translate(self, msg: dict) -> base.ProviderEvent | None:
        kind = msg.get("type")
        if kind == "input_audio_buffer.speech_started":
            return base.SpeechStarted()
        if kind == "input_audio_buffer.speech_stopped":
            return base.SpeechStopped()
        if kind == "conversation.item.input_audio_transcription.completed":
            return base.Transcript("caller", str(msg.get("transcript", "")))
        if kind == "response.created":
            rid = str((msg.get("response") or {}).get("id", ""))
            self._current_response = rid
            return base.ResponseStarted(rid)
        rid = str(msg.get("response_id") or (msg.get("response") or {}).get("id", ""))
        if kind == "response.output_audio.delta":
            if rid in self._cancelled:
                return None
            try:
                pcm = base64.b64decode(msg.get("delta", ""), validate=True)
            except ValueError:
                return base.ProviderError("audio delta is not base64")
            if len(pcm) % 2:
                return base.ProviderError("audio delta is not whole samples")
            return base.AgentAudio(rid, pcm, self._settings.output_rate)
        if kind == "response.output_audio_transcript.delta":
            return None if rid in self._cancelled else base.AgentText(rid, str(msg.get("delta", "")))
        if kind == "response.done":
            response = msg.get("response") or {}
            self._cancelled.discard(rid)
            if self._current_response == rid:
                self._current_response = None
            return base.ResponseDone(rid, str(response.get("status", "completed")))
        if kind == "x_local.turn.metrics":
            return base.TurnMetrics({k: float(v) for k, v in msg.items() if isinstance(v, int | float)})
        if kind == "error":
            error = msg.get("error") or {}
            if isinstance(error, dict) and error.get("code") == "response_cancel_not_active":
                # Our cancel after a barge-in crossed the server's own (it cancels on new speech): benign.
                log.debug("provider.cancel_not_active", provider=self.name)
                return None
            metrics.PROVIDER_ERRORS.labels(self.name, "event").inc()
            return base.ProviderError(str(error.get("message", msg) if isinstance(error, dict) else error))
        return None

    async def _send(self, msg: dict) -> None:
        try:
            await self._ws.send(json.dumps(msg))
        except ConnectionClosed:
            raise base.ProviderUnavailable(f"{self.name}: session closed") from None

    async def _receive_json(self) -> dict:
        while True:
            raw = await self._ws.recv()
            try:
                msg = json.loads(raw)
            except ValueError:
                log.warning("provider.bad_message", provider=self.name)
                continue
            if isinstance(msg, dict):
                return msg
