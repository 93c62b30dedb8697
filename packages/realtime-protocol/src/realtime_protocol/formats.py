"""Audio formats of the GA Realtime API: `{"type": "audio/pcm", "rate": N}`, `{"type": "audio/pcmu"}`
(G.711 mu-law, 8 kHz) and `{"type": "audio/pcma"}` (G.711 A-law, 8 kHz).

OpenAI accepts `audio/pcm` at 24000 Hz only; local-ai-server also takes 8000 and 16000 Hz (a phone
call's own rate, no resampling on the way). The sample conversion itself lives in `voice_common`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import ProtocolError

PCM_RATES = (8000, 16000, 24000)
G711_RATE = 8000

Encoding = Literal["pcm", "pcmu", "pcma"]
_MIME = {"audio/pcm": "pcm", "audio/pcmu": "pcmu", "audio/pcma": "pcma"}


class AudioFormatError(ProtocolError):
    """A format we do not speak."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__("invalid_audio_format", message, param=param)


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """`pcm` is s16le mono at `rate`; `pcmu`/`pcma` are one byte per sample at 8000 Hz."""

    encoding: Encoding = "pcm"
    rate: int = 24000

    def __post_init__(self) -> None:
        if self.encoding == "pcm" and self.rate not in PCM_RATES:
            raise AudioFormatError(f"audio/pcm rate must be one of {list(PCM_RATES)}, got {self.rate!r}")
        if self.encoding in ("pcmu", "pcma") and self.rate != G711_RATE:
            raise AudioFormatError(f"audio/{self.encoding} is {G711_RATE} Hz only, got rate {self.rate!r}")

    @property
    def mime(self) -> str:
        return f"audio/{self.encoding}"

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == "pcm" else 1

    def bytes_for_ms(self, ms: int) -> int:
        return self.rate * ms // 1000 * self.bytes_per_sample

    def to_wire(self) -> dict:
        if self.encoding == "pcm":
            return {"type": "audio/pcm", "rate": self.rate}
        return {"type": self.mime}

    @classmethod
    def from_wire(cls, obj: object, param: str | None = None) -> AudioFormat:
        if not isinstance(obj, dict):
            raise AudioFormatError('format must be an object like {"type": "audio/pcm", "rate": 24000}', param)
        encoding = _MIME.get(obj.get("type"))  # type: ignore[arg-type]
        if encoding is None:
            raise AudioFormatError(f"unsupported audio format type {obj.get('type')!r} "
                                   "(use audio/pcm, audio/pcmu or audio/pcma)", param)
        rate = obj.get("rate", 24000 if encoding == "pcm" else G711_RATE)
        if isinstance(rate, bool) or not isinstance(rate, int):
            raise AudioFormatError(f"rate must be an integer, got {rate!r}", param)
        try:
            return cls(encoding, rate)  # type: ignore[arg-type]
        except AudioFormatError as exc:
            raise AudioFormatError(exc.message, param) from None
