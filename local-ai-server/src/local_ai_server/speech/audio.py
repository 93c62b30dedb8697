"""Audio of the Realtime formats (`realtime_protocol.AudioFormat`) as samples: G.711 mu-law, and
resampling (soxr).

Internally the server works with 16-bit signed little-endian mono PCM (`int16` numpy arrays).
The caller's audio is converted to 16 kHz (what webrtcvad and Whisper use); the agent's audio is
converted from the voice's rate to the session's output format.
"""

from __future__ import annotations

import numpy as np
import soxr
from realtime_protocol import AudioFormat, AudioFormatError

PROCESSING_RATE = 16000  # VAD and STT


# --- G.711 mu-law -------------------------------------------------------------------------------

_BIAS = 0x84
_CLIP_14 = 8159
_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


def _build_ulaw_decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _build_ulaw_encode_table() -> np.ndarray:
    """mu-law code for every 16-bit sample value (indexed by sample + 32768), as ITU-T G.711 /
    the reference g711.c: 14-bit magnitude, bias 33, segment search, bits inverted."""
    value = np.arange(-32768, 32768, dtype=np.int32) >> 2
    negative = value < 0
    mask = np.where(negative, 0x7F, 0xFF)
    magnitude = np.minimum(np.where(negative, -value, value), _CLIP_14) + (_BIAS >> 2)
    segment = np.searchsorted(_SEGMENT_ENDS, magnitude, side="left")
    code = (segment << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


ULAW_DECODE = _build_ulaw_decode_table()
ULAW_ENCODE = _build_ulaw_encode_table()


def ulaw_decode(data: bytes) -> np.ndarray:
    return ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(samples: np.ndarray) -> bytes:
    return ULAW_ENCODE[samples.astype(np.int32) + 32768].tobytes()


# --- bytes <-> samples --------------------------------------------------------------------------


def decode(data: bytes, fmt: AudioFormat) -> np.ndarray:
    """Wire bytes to int16 samples at `fmt.rate`. Raises AudioFormatError on a partial sample."""
    if fmt.encoding == "pcmu":
        return ulaw_decode(data)
    if len(data) % 2:
        raise AudioFormatError(f"audio/pcm needs whole 16-bit samples, got {len(data)} bytes (odd)", "audio")
    return np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False)


def encode(samples: np.ndarray, fmt: AudioFormat) -> bytes:
    """int16 samples at `fmt.rate` to wire bytes."""
    if fmt.encoding == "pcmu":
        return ulaw_encode(samples)
    return samples.astype("<i2", copy=False).tobytes()


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """One-shot resampling of int16 samples (soxr, high quality)."""
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.int16, copy=False)
    return _to_int16(soxr.resample(samples.astype(np.float32), from_rate, to_rate, quality="HQ"))


class StreamResampler:
    """Resamples a stream of int16 chunks (soxr keeps the filter state between chunks)."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = (
            None if from_rate == to_rate else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")
        )

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return samples
        return _to_int16(self._stream.resample_chunk(samples.astype(np.float32), last=last))


def _to_int16(samples: np.ndarray) -> np.ndarray:
    """Round and clip. soxr's own int16 output adds random dither: the same call would give
    different samples each time, and Whisper's transcript of quiet audio can change with it."""
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


def to_float32(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


def chunk_bytes(data: bytes, size: int) -> list[bytes]:
    """Split into pieces of at most `size` bytes (size is a whole number of samples)."""
    return [data[i : i + size] for i in range(0, len(data), size)] or []
