"""Deepgram Voice Agent: the WebSocket edge (one connection per provider session).

`Welcome` is awaited on entry; `Settings` goes first in `run` (so the greeting handed to `say`
before `run` is part of it, as the reference wants it), then caller audio once `SettingsApplied`
came back, and `KeepAlive` whenever no audio went out for `keepalive_s`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ...concurrency import single_error
from ...config import DeepgramAgentSettings
from ...observability.logs import get_logger
from .. import base
from ..ws_edge import CloudProvider, Outbox, close_quietly, closed, open_ws, send
from . import protocol as p

log = get_logger(__name__)

MAX_FRAMES_PER_MESSAGE = 5  # 100 ms of caller audio per binary message at most


class DeepgramAgentProvider(CloudProvider):
    settings: DeepgramAgentSettings

    @asynccontextmanager
    async def session(self, options: base.SessionOptions) -> AsyncIterator[DeepgramAgentSession]:
        s = self.settings
        key = self.keys.require()
        ws = await open_ws(self.keys, s.url, {"Authorization": f"Token {key}"}, s.connect_timeout_s, s.max_message_bytes)
        try:
            session = DeepgramAgentSession(self.name, ws, s, options)
            await session.start()
            yield session
        finally:
            await close_quietly(ws)


class DeepgramAgentSession:
    def __init__(self, name: str, ws: ClientConnection, settings: DeepgramAgentSettings, options: base.SessionOptions):
        self.name = name
        self.input_rate = settings.sample_rate
        self._ws = ws
        self._settings = settings
        self._config = p.AgentConfig(
            encoding=settings.audio_encoding,
            sample_rate=settings.sample_rate,
            language=settings.language,
            listen_model=settings.listen_model,
            think_provider=settings.think_provider,
            think_model=settings.think_model,
            speak_model=options.voice or settings.speak_model,
            prompt=options.instructions,
            tools=options.tools,
        )
        self._protocol = p.AgentProtocol(settings.audio_encoding, settings.sample_rate)
        self._outbox = Outbox(name)
        self._greeting: str | None = None
        self._applied = anyio.Event()
        self._deliver: base.EventSink | None = None

    async def start(self) -> None:
        with anyio.fail_after(self._settings.connect_timeout_s):
            first = await self._recv()
        events = self._protocol.receive_text(first) if isinstance(first, str) else []
        if not events or not isinstance(events[0], p.Welcome):
            raise base.ProviderUnavailable(f"{self.name}: expected Welcome first")
        log.info("provider.connected", provider=self.name, request_id=events[0].request_id)

    def push_audio(self, pcm: bytes) -> None:
        self._outbox.push(pcm)

    async def say(self, text: str) -> None:
        """The greeting travels in Settings (agent.greeting), sent when `run` starts; later
        sentences (a farewell, a transfer announcement) as InjectAgentMessage."""
        if self._deliver is None:
            self._greeting = text
        else:
            await self._send(p.inject_agent_message(text))

    async def send_user_text(self, text: str) -> None:
        await self._send(p.inject_user_message(text))

    async def send_tool_result(self, call_id: str, name: str, output: str, respond: bool) -> None:
        # The vendor always goes on by itself after a FunctionCallResponse; it is owed either way.
        await self._send(p.function_call_response(call_id, name, output))

    async def cancel_response(self) -> None:
        if self._deliver is not None:
            for event in self._protocol.cancel():
                self._deliver(event)

    async def run(self, deliver: base.EventSink) -> None:
        self._deliver = deliver
        await self._send(p.settings_message(self._config, self._greeting))
        with single_error(base.ProviderUnavailable):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._send_audio)
                await self._receive(deliver)
                tg.cancel_scope.cancel()

    async def _receive(self, deliver: base.EventSink) -> None:
        while True:
            message = await self._recv()
            events = self._protocol.receive_audio(message) if isinstance(message, bytes) else self._protocol.receive_text(message)
            for event in events:
                if isinstance(event, p.SettingsApplied):
                    self._applied.set()
                elif isinstance(event, p.Fatal):
                    raise base.ProviderUnavailable(f"{self.name}: {event.reason}")
                elif not isinstance(event, p.Welcome):
                    deliver(event)

    async def _send_audio(self) -> None:
        with anyio.move_on_after(self._settings.connect_timeout_s) as waited:
            await self._applied.wait()
        if waited.cancelled_caught:
            raise base.ProviderUnavailable(f"{self.name}: no SettingsApplied")
        while True:
            chunk: bytes | None = None
            with anyio.move_on_after(self._settings.keepalive_s):
                chunk = await self._outbox.take(MAX_FRAMES_PER_MESSAGE)
            await self._send(p.keep_alive_message() if chunk is None else self._protocol.encode_audio(chunk))

    async def _send(self, message: str | bytes) -> None:
        await send(self.name, self._ws, message, self._settings.send_timeout_s)

    async def _recv(self) -> str | bytes:
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            raise closed(self.name, exc) from None
