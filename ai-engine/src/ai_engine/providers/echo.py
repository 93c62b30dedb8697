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
        yield EchoSession(self.settings.input_rate)

    async def ready(self) -> bool:
        return True


class EchoSession:
    """Each caller frame goes straight back as agent audio, in the capture leg's receive
    callback: no queue and no task in between."""

    def __init__(self, rate: int):
        self.input_rate = rate
        self._deliver: base.EventSink | None = None

    def push_audio(self, pcm: bytes) -> None:
        deliver = self._deliver
        if deliver is not None:  # not running: dropped, as a network provider's would be
            deliver(base.AgentAudio(RESPONSE_ID, pcm, self.input_rate))

    async def say(self, text: str) -> None:
        pass

    async def cancel_response(self) -> None:
        pass

    async def send_user_text(self, text: str) -> None:
        pass

    async def send_tool_result(self, call_id: str, name: str, output: str, respond: bool) -> None:
        pass  # the echo offers no tools

    async def run(self, deliver: base.EventSink) -> None:
        deliver(base.ResponseStarted(RESPONSE_ID))
        self._deliver = deliver
        try:
            await anyio.sleep_forever()
        finally:
            self._deliver = None
