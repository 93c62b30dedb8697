"""Audio of the Realtime formats (`realtime_protocol.AudioFormat`) as int16 sample arrays.

Internally the server works with 16-bit signed little-endian mono PCM (`int16` numpy arrays).
The caller's audio is converted to 16 kHz (what webrtcvad and Whisper use); the agent's audio is
converted from the voice's rate to the session's output format. G.711 and resampling are the
shared ones (`voice_common.pcm`, `voice_common.resample`); this module only picks by format.
"""

from __future__ import annotations

import numpy as np
from realtime_protocol import AudioFormat, AudioFormatError
from voice_common.pcm import alaw_decode, alaw_encode, to_bytes, ulaw_decode, ulaw_encode
from voice_common.resample import StreamResampler, resample

__all__ = ["PROCESSING_RATE", "StreamResampler", "chunk_bytes", "decode", "encode", "resample", "to_float32",
           "trim_leading_quiet"]

PROCESSING_RATE = 16000  # VAD and STT
ONSET_LEVEL = 64  # |sample| at about -54 dBFS: below it a voice's lead-in is digital near-silence
ONSET_KEEP_MS = 10  # kept before the first louder sample: the soft start of the first sound


def decode(data: bytes, fmt: AudioFormat) -> np.ndarray:
    """Wire bytes to int16 samples at `fmt.rate`. Raises AudioFormatError on a partial sample."""
    if fmt.encoding == "pcmu":
        return ulaw_decode(data)
    if fmt.encoding == "pcma":
        return alaw_decode(data)
    if len(data) % 2:
        raise AudioFormatError(f"audio/pcm needs whole 16-bit samples, got {len(data)} bytes (odd)", "audio")
    return np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False)


def encode(samples: np.ndarray, fmt: AudioFormat) -> bytes:
    """int16 samples at `fmt.rate` to wire bytes."""
    if fmt.encoding == "pcmu":
        return ulaw_encode(samples)
    if fmt.encoding == "pcma":
        return alaw_encode(samples)
    return to_bytes(samples)


def to_float32(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


def chunk_bytes(data: bytes, size: int) -> list[bytes]:
    """Split into pieces of at most `size` bytes (size is a whole number of samples)."""
    return [data[i : i + size] for i in range(0, len(data), size)] or []


def trim_leading_quiet(samples: np.ndarray, rate: int, level: int = ONSET_LEVEL, keep_ms: int = ONSET_KEEP_MS) -> np.ndarray:
    """Drop the near-silence before a voice's first sound, keeping `keep_ms` of lead-in: Piper
    starts most sentences with 40-70 ms of it, which the caller would wait through before the
    answer's first word. All of it when nothing reaches `level`."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= level)
    if loud.size == 0:
        return samples[:0]
    return samples[max(0, int(loud[0]) - rate * keep_ms // 1000):]
