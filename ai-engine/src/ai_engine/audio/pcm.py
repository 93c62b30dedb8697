"""PCM helpers: frame sizes, resampling (soxr), WAV encoding (stdlib `wave`)."""

from __future__ import annotations

import io
import wave

import numpy as np
import soxr

FRAME_MS = 20
ASTERISK_FILE_RATE = 8000  # .wav files Asterisk plays must be 8 kHz mono 16-bit (DESIGN §3)


def frame_bytes(rate: int, ms: int = FRAME_MS) -> int:
    return rate * ms // 1000 * 2


def duration_s(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def wav_bytes(pcm: bytes, rate: int = ASTERISK_FILE_RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


class Resampler:
    """Streaming s16le mono resampler; a pass-through when the rates match."""

    def __init__(self, in_rate: int, out_rate: int):
        self.in_rate, self.out_rate = in_rate, out_rate
        self._stream = None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality="HQ")

    def process(self, pcm: bytes, last: bool = False) -> bytes:
        if self._stream is None:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2")
        return self._stream.resample_chunk(samples, last=last).astype("<i2").tobytes()
