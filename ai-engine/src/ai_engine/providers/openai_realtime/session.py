"""OpenAI Realtime (GA): the WebSocket edge.

On entry: connect (`?model=` in the URL, bearer key), await `session.created`, send
`session.update`. Caller audio goes out from one sender task. On our barge-in the reply is
cancelled and its audio item truncated at what the caller heard: the time since the item's
first audio reached the engine, never more than the audio delivered (the server refuses a
truncate past the item's end). Refusals (bad key) become `ProviderRejected`; rate limits, an
expired session and a closed socket `ProviderUnavailable` (hold prompt, reconnect).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import anyio
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ...concurrency import single_error
from ...config import OpenAIRealtimeSettings
from ...observability import metrics
from ...observability.logs import get_logger
from .. import base
from ..ws_edge import CloudProvider, Outbox, close_quietly, closed, open_ws, send
from . import protocol as p

log = get_logger(__name__)

MAX_FRAMES_PER_MESSAGE = 5  # 100 ms of caller audio per append at most


class OpenAIRealtimeProvider(CloudProvider):
    settings: OpenAIRealtimeSettings

    @asynccontextmanager
    async def session(self, options: base.SessionOptions) -> AsyncIterator[OpenAIRealtimeSession]:
        s = self.settings
        headers = {"Authorization": f"Bearer {self.keys.require()}"}
        url = f"{s.url}{'&' if '?' in s.url else '?'}model={quote(s.model)}"
        ws = await open_ws(self.keys, url, headers, s.connect_timeout_s, s.max_message_bytes)
        config = p.RealtimeConfig(
            instructions=options.instructions,
            voice=options.voice or s.voice,
            audio_format=s.audio_format,
            turn_detection=s.turn_detection,
            vad_threshold=s.vad_threshold,
            prefix_padding_ms=s.prefix_padding_ms,
            silence_duration_ms=s.silence_duration_ms,
            eagerness=s.eagerness,
            transcription_model=s.transcription_model,
            language=s.language,
            tools=options.tools,
            tool_choice=options.tool_choice,
        )
        try:
            session = OpenAIRealtimeSession(self, ws, config)
            await session.start()
            yield session
        finally:
            await close_quietly(ws)


class OpenAIRealtimeSession:
    def __init__(self, provider: OpenAIRealtimeProvider, ws: ClientConnection, config: p.RealtimeConfig):
        self.name = provider.name
        self._provider = provider
        self._ws = ws
        self._config = config
        self._protocol = p.RealtimeProtocol(config.audio_format, provider.settings.max_message_bytes)
        self.input_rate = self._protocol.rate
        self._outbox = Outbox(provider.name)
        self._item: tuple[str, float] | None = None  # (audio item, when its first audio reached us)

    async def start(self) -> None:
        with anyio.move_on_after(self._provider.settings.connect_timeout_s):
            events = self._events(await self._recv())
            if events and isinstance(events[0], p.SessionCreated):
                await self._send(p.session_update(self._config))
                return
        raise base.ProviderUnavailable(f"{self.name}: expected session.created first")

    def push_audio(self, pcm: bytes) -> None:
        self._outbox.push(pcm)

    async def say(self, text: str) -> None:
        await self._send(p.greeting(text))

    async def cancel_response(self) -> None:
        messages, item = self._protocol.cancel()
        for message in messages:
            await self._send(message)
        if item is not None and self._item is not None and self._item[0] == item:
            heard_ms = (anyio.current_time() - self._item[1]) * 1000
            audio_end_ms = int(min(heard_ms, self._protocol.delivered_ms))
            await self._send(self._protocol.truncate(item, audio_end_ms))
            log.info("provider.truncated", provider=self.name, audio_end_ms=audio_end_ms)
        self._item = None

    async def send_user_text(self, text: str) -> None:
        for message in self._protocol.user_text(text):
            await self._send(message)

    async def send_tool_result(self, call_id: str, name: str, output: str, respond: bool) -> None:
        for message in self._protocol.tool_result(call_id, output, respond, self._config.tool_choice):
            await self._send(message)

    async def run(self, deliver: base.EventSink) -> None:
        with single_error(base.ProviderUnavailable):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._send_audio)
                while True:
                    for event in self._events(await self._recv()):
                        if type(event) is base.AgentAudio:
                            item = self._protocol.item_id
                            if item is not None and (self._item is None or self._item[0] != item):
                                self._item = (item, anyio.current_time())
                        if not isinstance(event, p.SessionCreated):
                            deliver(event)

    def _events(self, raw: str | bytes) -> list[p.Event]:
        events = self._protocol.receive(raw)
        for event in events:
            if isinstance(event, p.Fatal):
                if event.rejected:
                    raise self._provider.keys.reject(event.reason)
                metrics.PROVIDER_ERRORS.labels(self.name, "fatal").inc()
                raise base.ProviderUnavailable(f"{self.name}: {event.reason}")
            if isinstance(event, base.ProviderError):
                metrics.PROVIDER_ERRORS.labels(self.name, "event").inc()
        return events

    async def _send_audio(self) -> None:
        while True:
            await self._send(self._protocol.encode_audio(await self._outbox.take(MAX_FRAMES_PER_MESSAGE)))

    async def _send(self, message: str) -> None:
        await send(self.name, self._ws, message, self._provider.settings.send_timeout_s)

    async def _recv(self) -> str | bytes:
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            raise closed(self.name, exc) from None
