"""Gemini Live: the WebSocket edge.

`setup` is sent on entry and `setupComplete` awaited. The Live API ends every connection after
a while and announces it with `goAway` (timeLeft): the session then opens a second connection,
resumes on it with the last `sessionResumptionUpdate` handle, switches caller audio over and
closes the old one, while the old one's last messages are still read. The caller hears nothing
of it. Errors arrive as a close frame: code 1008 with an API-key reason is a refusal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ...concurrency import single_error
from ...config import GeminiLiveSettings
from ...observability import metrics
from ...observability.logs import get_logger
from .. import base
from ..ws_edge import CloudProvider, Outbox, close_quietly, closed, open_ws
from . import protocol as p

log = get_logger(__name__)

MAX_FRAMES_PER_MESSAGE = 5  # 100 ms of caller audio per realtimeInput at most
POLICY_VIOLATION = 1008


class GeminiLiveProvider(CloudProvider):
    settings: GeminiLiveSettings

    async def connect(self) -> ClientConnection:
        s = self.settings
        headers = {"x-goog-api-key": self.keys.require()}
        return await open_ws(self.keys, s.url, headers, s.connect_timeout_s, s.max_message_bytes)

    def closed(self, exc: ConnectionClosed) -> base.ProviderUnavailable:
        frame = exc.rcvd
        if frame is not None and frame.code == POLICY_VIOLATION and "key" in frame.reason.lower():
            return self.keys.reject(f"the vendor refused the API key ({frame.reason})")
        return closed(self.name, exc)

    @asynccontextmanager
    async def session(self, options: base.SessionOptions) -> AsyncIterator[GeminiLiveSession]:
        s = self.settings
        config = p.LiveConfig(
            model=s.model,
            voice=options.voice or s.voice,
            language=s.language,
            instructions=options.instructions,
            start_sensitivity=s.start_sensitivity,
            end_sensitivity=s.end_sensitivity,
            silence_duration_ms=s.silence_duration_ms,
            prefix_padding_ms=s.prefix_padding_ms,
            tools=options.tools,
        )
        session = GeminiLiveSession(self, await self.connect(), config)
        try:
            await session.set_up(session.ws)
            yield session
        finally:
            await close_quietly(session.ws)


class GeminiLiveSession:
    input_rate = p.INPUT_RATE

    def __init__(self, provider: GeminiLiveProvider, ws: ClientConnection, config: p.LiveConfig):
        self.name = provider.name
        self.ws = ws  # the connection caller audio goes to (switched on goAway)
        self._provider = provider
        self._config = config
        self._protocol = p.LiveProtocol()
        self._outbox = Outbox(provider.name)
        self._handle: str | None = None
        self._moving = False
        self._deliver: base.EventSink | None = None
        self.reconnects = 0

    async def set_up(self, ws: ClientConnection) -> None:
        await self._send(ws, p.setup_message(self._config, self._handle))
        with anyio.move_on_after(self._provider.settings.connect_timeout_s) as waited:
            while True:
                events = self._protocol.receive(await self._recv(ws))
                if any(isinstance(e, p.SetupComplete) for e in events):
                    return
        if waited.cancelled_caught:
            raise base.ProviderUnavailable(f"{self.name}: no setupComplete")

    def push_audio(self, pcm: bytes) -> None:
        self._outbox.push(pcm)

    async def say(self, text: str) -> None:
        await self._send(self.ws, p.greeting_message(text))

    async def cancel_response(self) -> None:
        if self._deliver is not None:
            for event in self._protocol.cancel():
                self._deliver(event)

    async def send_user_text(self, text: str) -> None:
        await self._send(self.ws, p.user_text_message(text))

    async def send_tool_result(self, call_id: str, name: str, output: str, respond: bool) -> None:
        await self._send(self.ws, p.tool_response_message(call_id, name, output))

    async def run(self, deliver: base.EventSink) -> None:
        self._deliver = deliver
        with single_error(base.ProviderUnavailable):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._send_audio)
                await self._receive(deliver, tg)
                tg.cancel_scope.cancel()

    async def _receive(self, deliver: base.EventSink, tg: anyio.abc.TaskGroup) -> None:
        while True:
            ws = self.ws
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                if ws is not self.ws:
                    continue  # the old connection after a goAway: go on with the new one
                raise self._provider.closed(exc) from None
            for event in self._protocol.receive(raw):
                if isinstance(event, p.GoAway):
                    log.info("provider.go_away", provider=self.name, time_left_s=event.time_left_s)
                    if not self._moving:
                        self._moving = True
                        tg.start_soon(self._move)
                elif isinstance(event, p.ResumptionHandle):
                    self._handle = event.handle
                elif not isinstance(event, p.SetupComplete):
                    deliver(event)

    async def _move(self) -> None:
        """goAway: resume on a new connection before the server drops the old one."""
        try:
            new = await self._provider.connect()
            try:
                await self.set_up(new)
            except base.ProviderUnavailable:
                await close_quietly(new)
                raise
        except base.ProviderUnavailable as exc:
            log.warning("provider.go_away_reconnect_failed", provider=self.name, error=str(exc))
            metrics.PROVIDER_ERRORS.labels(self.name, "go_away").inc()
            return  # the old connection ends by itself: a plain lost session then
        finally:
            self._moving = False
        old, self.ws = self.ws, new
        self.reconnects += 1
        log.info("provider.resumed", provider=self.name, with_handle=self._handle is not None)
        await close_quietly(old)

    async def _send_audio(self) -> None:
        while True:
            chunk = await self._outbox.take(MAX_FRAMES_PER_MESSAGE)
            await self._send(self.ws, p.audio_message(chunk))

    async def _send(self, ws: ClientConnection, message: str) -> None:
        try:
            with anyio.fail_after(self._provider.settings.send_timeout_s):
                await ws.send(message)
        except ConnectionClosed as exc:
            if ws is self.ws:
                raise self._provider.closed(exc) from None
        except TimeoutError:
            metrics.PROVIDER_ERRORS.labels(self.name, "send_timeout").inc()
            raise base.ProviderUnavailable(f"{self.name}: send stalled") from None

    async def _recv(self, ws: ClientConnection) -> str | bytes:
        try:
            return await ws.recv()
        except ConnectionClosed as exc:
            raise self._provider.closed(exc) from None
