"""G.711 μ-law (PCMU, RTP PT 0) to and from signed 16-bit PCM, vectorised with numpy.

ITU-T G.711 with the bias-33 segment encoding every implementation uses (Asterisk's ulaw.c,
audioop). To be replaced by the shared voice_common helper once it lands on main.
"""

from __future__ import annotations

import numpy as np

_BIAS = 0x84


def _decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(u & 0x80, -magnitude, magnitude).astype("<i2")


_DECODE = _decode_table()


def ulaw_to_pcm(data: bytes) -> bytes:
    """μ-law bytes → little-endian signed 16-bit PCM (two bytes per input byte)."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)].tobytes()


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """Little-endian signed 16-bit PCM → μ-law bytes (14-bit magnitude, bias 33, 8 segments)."""
    v = np.frombuffer(pcm, dtype="<i2").astype(np.int32) >> 2
    mask = np.where(v < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(v), 8159) + 0x21
    segment = np.maximum(np.floor(np.log2(magnitude)).astype(np.int32) - 5, 0)
    value = np.where(segment > 7, 0x7F, (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F))
    return (value ^ mask).astype(np.uint8).tobytes()
