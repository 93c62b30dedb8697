"""Client of the Realtime protocol (docs/protocol.md) for local-ai-server, on the sans-IO
`realtime_protocol` package (docs/architecture.md, "The Realtime protocol").

One WebSocket per call. Caller audio (`push_audio`, sync, from the capture leg's receive
callback) is queued, bounded, and one sender task per session sends it as
`input_audio_buffer.append`, several frames in one message when it fell behind. Server events
come back as provider events. Audio of a response we cancelled is dropped here too, so a late
delta can never reach the caller. The call id travels as the `X-Call-Id` header, so both services'
log lines of one call can be joined; the provider's session id is logged with our call id.

Failure rules: anything that stops the session (cannot connect, closed before or after
`session.created`, no `session.created` in time, a send that stalls past `send_timeout_s`) is
`ProviderUnavailable` (the call plays the hold prompt and reconnects); a malformed event is a
`ProviderError` event (logged, counted), never the end of the call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import realtime_protocol as rp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ..concurrency import single_error
from ..config import ProviderSettings
from ..observability import metrics
from ..observability.logs import get_logger
from . import base
from .realtime_tools import tool_config, tool_result, user_text

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
        headers = {"X-Call-Id": options.call_id}
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
        self._conn = rp.ClientConnection(max_bytes=settings.max_message_bytes)
        self.input_rate = settings.input_rate
        self.session_id: str | None = None
        self._outgoing: deque[bytes] = deque()
        self._has_audio = anyio.Event()
        self.dropped_frames = 0

    async def start(self) -> None:
        """Wait for `session.created`, then configure the session."""
        try:
            with anyio.fail_after(self._settings.connect_timeout_s):
                first = await self._receive()
        except TimeoutError:
            metrics.PROVIDER_ERRORS.labels(self.name, "connect").inc()
            raise base.ProviderUnavailable(f"{self.name}: no session.created within "
                                           f"{self._settings.connect_timeout_s} s") from None
        except rp.ProtocolError as exc:
            metrics.PROVIDER_ERRORS.labels(self.name, "connect").inc()
            raise base.ProviderUnavailable(f"{self.name}: malformed first event: {exc.message}") from None
        if not isinstance(first, rp.SessionCreated):
            metrics.PROVIDER_ERRORS.labels(self.name, "connect").inc()
            raise base.ProviderUnavailable(f"{self.name}: expected session.created, got {first.type!r}")
        self.session_id = first.id
        log.info("provider.session_created", provider=self.name, provider_session_id=first.id)
        await self._send(rp.SessionUpdate(rp.SessionConfig(
            instructions=self._options.instructions,
            voice=self._options.voice or rp.UNSET,
            input_format=rp.AudioFormat("pcm", self._settings.input_rate),
            output_format=rp.AudioFormat("pcm", self._settings.output_rate),
            turn_detection=rp.TurnDetection(silence_duration_ms=self._settings.silence_duration_ms),
            **tool_config(self._options.tools, self._options.tool_choice),
        )))

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
        await self._send_text(rp.append_message(pcm))

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
        """The greeting: added as the assistant's own words, then spoken verbatim (local-ai-server
        speaks an unspoken assistant item as written; docs/protocol.md)."""
        await self._send(rp.ConversationItemCreate(rp.MessageItem.of_text("assistant", text)))
        await self._send(rp.ResponseCreate())

    async def cancel_response(self) -> None:
        await self._send(rp.ResponseCancel())

    async def send_user_text(self, text: str) -> None:
        for message in user_text(text):
            await self._send(message)

    async def send_tool_result(self, call_id: str, name: str, output: str, respond: bool) -> None:
        for message in tool_result(call_id, output, respond, self._options.tool_choice):
            await self._send(message)

    async def events(self) -> AsyncIterator[base.ProviderEvent]:
        while True:
            try:
                message = await self._receive()
            except rp.ProtocolError as exc:
                metrics.PROVIDER_ERRORS.labels(self.name, "malformed").inc()
                log.warning("provider.bad_message", provider=self.name, code=exc.code, error=exc.message)
                yield base.ProviderError(f"malformed provider event: {exc.message}")
                continue
            event = self._translate(message)
            if event is not None:
                yield event

    def _translate(self, event: rp.ServerEvent) -> base.ProviderEvent | None:
        match event:
            case rp.InputAudioBufferSpeechStarted():
                return base.SpeechStarted()
            case rp.InputAudioBufferSpeechStopped():
                return base.SpeechStopped()
            case rp.InputAudioTranscriptionCompleted():
                return base.Transcript("caller", event.transcript)
            case rp.ResponseCreated():
                return base.ResponseStarted(event.response.id)
            case rp.ResponseOutputAudioDelta():
                if self._conn.is_cancelled(event.response_id):
                    return None
                if len(event.delta) % 2:
                    return base.ProviderError("audio delta is not whole samples")
                return base.AgentAudio(event.response_id, event.delta, self._settings.output_rate)
            case rp.ResponseOutputAudioTranscriptDelta():
                return None if self._conn.is_cancelled(event.response_id) else base.AgentText(event.response_id,
                                                                                             event.delta)
            case rp.ResponseDone():
                return base.ResponseDone(event.response.id, event.response.status)
            case rp.ResponseFunctionCallArgumentsDone():
                return base.ToolCall(event.call_id, event.name, event.arguments)
            case rp.XLocalTurnMetrics():
                return base.TurnMetrics({k: float(v) for k, v in event.stages.items() if v is not None})
            case rp.Error(code="response_cancel_not_active"):
                # Our cancel after a barge-in crossed the server's own (it cancels on new speech): benign.
                log.debug("provider.cancel_not_active", provider=self.name)
                return None
            case rp.Error():
                metrics.PROVIDER_ERRORS.labels(self.name, "event").inc()
                return base.ProviderError(event.message or event.code)
        return None

    async def _send(self, event: object) -> None:
        await self._send_text(self._conn.send(event))

    async def _send_text(self, text: str) -> None:
        """Bounded: a provider that stops reading (a full TCP window) is a lost provider, not a
        stuck barge-in."""
        try:
            with anyio.fail_after(self._settings.send_timeout_s):
                await self._ws.send(text)
        except ConnectionClosed:
            raise base.ProviderUnavailable(f"{self.name}: session closed") from None
        except TimeoutError:
            metrics.PROVIDER_ERRORS.labels(self.name, "send_timeout").inc()
            raise base.ProviderUnavailable(f"{self.name}: a send stalled for {self._settings.send_timeout_s} s") from None

    async def _receive(self) -> rp.ServerEvent:
        try:
            raw = await self._ws.recv()
        except ConnectionClosed:
            raise base.ProviderUnavailable(f"{self.name}: session closed") from None
        return self._conn.receive(raw)
