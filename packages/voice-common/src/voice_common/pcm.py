"""16-bit PCM arithmetic, WAV bytes and G.711 (mu-law and A-law), in one place.

Both services carry audio as signed 16-bit little-endian mono PCM ("s16le", Asterisk's `slin*`
formats and the Realtime protocol's `audio/pcm`). Every frame size, sample count and duration is
computed by the helpers here, so `rate * ms // 1000 * 2` is written nowhere else.

G.711 is implemented with lookup tables built once from the ITU-T reference algorithm (the
public-domain `g711.c`), not with `audioop` (deprecated in 3.11, removed in 3.13): encoding is a
table lookup per sample, decoding a table lookup per byte.
"""

from __future__ import annotations

import io
import wave

import numpy as np

SAMPLE_BYTES = 2  # s16le mono
FRAME_MS = 20  # the telephony frame: Asterisk sends and expects 20 ms of audio per frame


def samples_for_ms(rate: int, ms: float) -> int:
    """Samples in `ms` milliseconds at `rate` Hz (rounded down to a whole sample)."""
    return int(rate * ms // 1000)


def frame_bytes(rate: int, ms: float = FRAME_MS) -> int:
    """Bytes of s16le mono audio in `ms` milliseconds at `rate` Hz (320 for 20 ms at 8 kHz)."""
    return samples_for_ms(rate, ms) * SAMPLE_BYTES


def duration_s(pcm: bytes | bytearray | memoryview, rate: int) -> float:
    """Seconds of s16le mono audio in `pcm`."""
    return len(pcm) / SAMPLE_BYTES / rate


def duration_ms(pcm: bytes | bytearray | memoryview, rate: int) -> int:
    """Whole milliseconds of s16le mono audio in `pcm` (rounded down)."""
    return len(pcm) // SAMPLE_BYTES * 1000 // rate


def silence(rate: int, ms: float = FRAME_MS) -> bytes:
    """Digital silence of `ms` milliseconds."""
    return bytes(frame_bytes(rate, ms))


def to_samples(pcm: bytes | bytearray | memoryview) -> np.ndarray:
    """s16le bytes to an int16 array (a view, no copy). Raises ValueError on a partial sample."""
    if len(pcm) % SAMPLE_BYTES:
        raise ValueError(f"s16le audio needs whole 16-bit samples, got {len(pcm)} bytes (odd)")
    return np.frombuffer(pcm, dtype="<i2")


def to_bytes(samples: np.ndarray) -> bytes:
    """int16 array to s16le bytes."""
    return samples.astype("<i2", copy=False).tobytes()


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """A mono 16-bit WAV file holding `pcm` (stdlib `wave`)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_BYTES)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


# --- G.711 mu-law -------------------------------------------------------------------------------

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # largest 14-bit magnitude
_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


def _ulaw_decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


def _ulaw_encode_table() -> np.ndarray:
    """mu-law code of every 16-bit sample (index: sample + 32768): 14-bit magnitude, bias 33,
    segment search, bits inverted, as the reference `linear2ulaw`."""
    value = np.arange(-32768, 32768, dtype=np.int32) >> 2
    negative = value < 0
    mask = np.where(negative, 0x7F, 0xFF)
    magnitude = np.minimum(np.where(negative, -value, value), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude, side="left")
    code = (segment << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


# --- G.711 A-law --------------------------------------------------------------------------------

_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _alaw_decode_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (codes & 0x70) >> 4
    t = ((codes & 0x0F) << 4) + np.where(segment == 0, 8, 0x108)
    t = np.where(segment > 1, t << np.maximum(segment - 1, 0), t)
    return np.where(codes & 0x80, t, -t).astype(np.int16)


def _alaw_encode_table() -> np.ndarray:
    """A-law code of every 16-bit sample (index: sample + 32768): 13-bit value, segment search,
    even bits inverted (0x55), as the reference `linear2alaw`."""
    value = np.arange(-32768, 32768, dtype=np.int32) >> 3
    negative = value < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -value - 1, value)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude, side="left")
    shift = np.where(segment < 2, 1, np.minimum(segment, 7))
    code = (segment << 4) | ((magnitude >> shift) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


ULAW_DECODE = _ulaw_decode_table()
ULAW_ENCODE = _ulaw_encode_table()
ALAW_DECODE = _alaw_decode_table()
ALAW_ENCODE = _alaw_encode_table()


def ulaw_decode(data: bytes | bytearray | memoryview) -> np.ndarray:
    """mu-law bytes to int16 samples (one sample per byte)."""
    return ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(samples: np.ndarray) -> bytes:
    """int16 samples to mu-law bytes."""
    return ULAW_ENCODE[samples.astype(np.int32) + 32768].tobytes()


def alaw_decode(data: bytes | bytearray | memoryview) -> np.ndarray:
    """A-law bytes to int16 samples (one sample per byte)."""
    return ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(samples: np.ndarray) -> bytes:
    """int16 samples to A-law bytes."""
    return ALAW_ENCODE[samples.astype(np.int32) + 32768].tobytes()


def ulaw_to_pcm(data: bytes | bytearray | memoryview) -> bytes:
    """mu-law bytes to s16le bytes."""
    return to_bytes(ulaw_decode(data))


def pcm_to_ulaw(pcm: bytes | bytearray | memoryview) -> bytes:
    """s16le bytes to mu-law bytes."""
    return ulaw_encode(to_samples(pcm))
