"""Cuts a reply's audio into playable segments (file mode).

A segment is closed at a text boundary of the reply once it holds `min_ms` of audio, when the
reply's audio pauses (the provider finished synthesising a piece), or when the reply ends. So
the first sentence plays while later ones are still being synthesised.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_common.pcm import frame_bytes


@dataclass(frozen=True, slots=True)
class Segment:
    response_id: str
    pcm: bytes  # 8 kHz s16le mono
    index: int


class Segmenter:
    def __init__(self, min_ms: int, rate: int = 8000):
        self._min_bytes = frame_bytes(rate, min_ms)
        self._response_id = ""
        self._buf = bytearray()
        self._index = 0

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def add_audio(self, response_id: str, pcm: bytes) -> list[Segment]:
        out = self._switch(response_id)
        self._buf += pcm
        return out

    def text_boundary(self, response_id: str) -> list[Segment]:
        out = self._switch(response_id)
        if len(self._buf) >= self._min_bytes:
            out += self.flush()
        return out

    def flush(self) -> list[Segment]:
        if len(self._buf) < 2:
            self._buf.clear()
            return []
        seg = Segment(self._response_id, bytes(self._buf), self._index)
        self._index += 1
        self._buf.clear()
        return [seg]

    def drop(self) -> None:
        """Forget buffered audio (barge-in)."""
        self._buf.clear()

    def _switch(self, response_id: str) -> list[Segment]:
        if response_id == self._response_id:
            return []
        out = self.flush()
        self._response_id = response_id
        self._index = 0
        return out
