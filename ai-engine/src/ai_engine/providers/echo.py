"""The `echo` provider: plays the caller's own audio straight back, in-process, no AI.

For line tests ("do I hear myself, is the delay fine?") and for load benchmarks of the media
path, where a model would hide what the engine itself costs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from ..config import ProviderSettings
from . import base

RESPONSE_ID = "echo"


class EchoProvider:
    def __init__(self, name: str, settings: ProviderSettings):
        self.name = name
        self.settings = settings

    @asynccontextmanager
    async def session(self, options: base.SessionOptions) -> AsyncIterator[EchoSession]:
        send, receive = anyio.create_memory_object_stream[bytes](64)
        async with send, receive:
            yield EchoSession(self.settings.input_rate, send, receive)

    async def ready(self) -> bool:
        return True


class EchoSession:
    def __init__(self, rate: int, send, receive):
        self.input_rate = rate
        self._send = send
        self._receive = receive

    async def send_audio(self, pcm: bytes) -> None:
        try:
            self._send.send_nowait(pcm)
        except anyio.WouldBlock:
            pass  # nobody is reading: drop, as a network provider's buffer would

    async def say(self, text: str) -> None:
        pass

    async def cancel_response(self) -> None:
        pass

    async def events(self) -> AsyncIterator[base.ProviderEvent]:
        yield base.ResponseStarted(RESPONSE_ID)
        async for pcm in self._receive:
            yield base.AgentAudio(RESPONSE_ID, pcm, self.input_rate)
