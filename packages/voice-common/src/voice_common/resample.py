"""Resampling of 16-bit mono audio with soxr, one convention for both services.

soxr works in float32 here and the result is rounded and clipped to int16 by `_to_int16`, not
produced by soxr's own int16 output: that one adds random dither, so the same input would give
different samples on every run (and Whisper's transcript of quiet audio can change with them).
Rounding keeps every run of a test, a benchmark or a call byte-identical.

Two faces of the same code: int16 numpy arrays (local-ai-server works on arrays) and s16le bytes
(the engine moves frames as bytes).
"""

from __future__ import annotations

import numpy as np
import soxr

from .pcm import to_bytes, to_samples

QUALITY = "HQ"


def _to_int16(samples: np.ndarray) -> np.ndarray:
    """Round to nearest and clip, in place on soxr's fresh float32 output (per 20 ms frame this
    runs 50 times a second per leg: in-place ufuncs instead of np.clip's temporaries)."""
    np.rint(samples, out=samples)
    np.maximum(samples, -32768.0, out=samples)
    np.minimum(samples, 32767.0, out=samples)
    return samples.astype(np.int16)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """One-shot resampling of a whole int16 signal."""
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.int16, copy=False)
    return _to_int16(soxr.resample(samples.astype(np.float32), from_rate, to_rate, quality=QUALITY))


def resample_bytes(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """One-shot resampling of whole s16le audio."""
    if from_rate == to_rate:
        return bytes(pcm)
    return to_bytes(resample(to_samples(pcm), from_rate, to_rate))


class StreamResampler:
    """Resamples a stream of chunks (soxr keeps the filter state between them); a pass-through
    when the rates match. `last=True` flushes the filter's tail at the end of a stream."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = (
            None if from_rate == to_rate else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality=QUALITY)
        )

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        """int16 samples in, int16 samples out."""
        if self._stream is None:
            return samples
        return _to_int16(self._stream.resample_chunk(samples.astype(np.float32), last=last))

    def process_bytes(self, pcm: bytes, last: bool = False) -> bytes:
        """s16le bytes in, s16le bytes out."""
        if self._stream is None:
            return pcm
        return to_bytes(self.process(to_samples(pcm), last=last))
