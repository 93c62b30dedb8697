"""File mode: reply audio → 8 kHz segments (cut at text boundaries, pauses and the reply's end)
→ WAV files played in order on the call bridge by `FilePlayer`."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from voice_common.resample import StreamResampler

from ..audio.pcm import ASTERISK_FILE_RATE
from .file_player import FilePlayer
from .segmenter import Segment, Segmenter

SEGMENT_IDLE_S = 0.04  # a pause this long in a reply's audio closes the current file


class FileOutput:
    mode = "file"

    def __init__(self, player: FilePlayer, segment_min_ms: int):
        self.player = player
        self.segmenter = Segmenter(segment_min_ms)
        self._to_8k: StreamResampler | None = None
        self._arrived = anyio.Event()
        self.on_first_audio: Callable[[str], None] | None = None
        player.on_started = self._started
        self._talking_since: float | None = None

    def _started(self) -> None:
        if self._talking_since is None:
            self._talking_since = anyio.current_time()
        if self.on_first_audio is not None:
            self.on_first_audio(self.mode)

    @property
    def talking(self) -> bool:
        talking = self.player.playing or self.segmenter.pending
        if not talking:
            self._talking_since = None
        return talking

    @property
    def talking_since(self) -> float | None:
        return self._talking_since if self.talking else None

    def audio(self, response_id: str, pcm: bytes, rate: int) -> None:
        if self._to_8k is None or self._to_8k.from_rate != rate:
            self._to_8k = StreamResampler(rate, ASTERISK_FILE_RATE)
        self._queue(self.segmenter.add_audio(response_id, self._to_8k.process_bytes(pcm)))
        self._arrived.set()

    def text_boundary(self, response_id: str) -> None:
        self._queue(self.segmenter.text_boundary(response_id))

    def response_done(self, response_id: str) -> None:
        self._queue(self.segmenter.flush())

    def _queue(self, segments: list[Segment]) -> None:
        for segment in segments:
            self.player.enqueue(segment)

    async def stop(self, response_id: str | None) -> bool:
        had_pending = self.segmenter.pending
        self.segmenter.drop()
        self._to_8k = None  # its filter still holds the cut reply's last samples: they must not open the next one
        stopped = await self.player.stop(response_id)
        return stopped or had_pending

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.player.run)
            tg.start_soon(self._flush_on_pause)

    async def _flush_on_pause(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived = anyio.Event()
            with anyio.move_on_after(SEGMENT_IDLE_S) as scope:
                await self._arrived.wait()
            if scope.cancelled_caught:
                self._queue(self.segmenter.flush())
            else:
                self._arrived.set()  # more audio came: wait again from now

    async def close(self) -> None:
        await self.player.close()
