"""Stream mode with a safety net: agent audio streams on the playback leg until that fails,
then (and for the rest of the call) it goes out as files on the bridge."""

from __future__ import annotations

from collections.abc import Callable

import anyio
from voice_common.pcm import duration_s

from ..observability import metrics
from ..observability.logs import get_logger
from .file_output import FileOutput
from .stream_output import StreamFailed, StreamOutput

log = get_logger(__name__)


class FallbackOutput:
    def __init__(self, stream: StreamOutput, file: FileOutput):
        self.stream = stream
        self.file = file
        self.active: StreamOutput | FileOutput = stream
        self.fell_back = anyio.Event()

    @property
    def mode(self) -> str:
        return self.active.mode

    @property
    def on_first_audio(self) -> Callable[[str], None] | None:
        return self.stream.on_first_audio

    @on_first_audio.setter
    def on_first_audio(self, hook: Callable[[str], None] | None) -> None:
        self.stream.on_first_audio = hook
        self.file.on_first_audio = hook

    @property
    def talking(self) -> bool:
        return self.active.talking

    @property
    def talking_since(self) -> float | None:
        return self.active.talking_since

    def audio(self, response_id: str, pcm: bytes, rate: int) -> None:
        self.active.audio(response_id, pcm, rate)

    def text_boundary(self, response_id: str) -> None:
        self.active.text_boundary(response_id)

    def response_done(self, response_id: str) -> None:
        self.active.response_done(response_id)

    async def stop(self, response_id: str | None) -> bool:
        return await self.active.stop(response_id)

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.file.run)
            try:
                await self.stream.run()
            except StreamFailed as exc:
                self._fall_back(str(exc))
            await anyio.sleep_forever()

    def _fall_back(self, reason: str) -> None:
        response_id, pending, rate = self.stream.take_pending()
        self.active = self.file
        metrics.PLAYBACK_FAILURES.labels("stream_fallback").inc()
        log.error("stream.fallback_to_file", reason=reason, pending_ms=round(duration_s(pending, rate) * 1000))
        if pending:
            self.file.audio(response_id, pending, rate)
            self.file.response_done(response_id)
        self.fell_back.set()

    async def close(self) -> None:
        await self.stream.close()
        await self.file.close()
