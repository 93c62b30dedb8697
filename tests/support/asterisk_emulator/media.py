"""Audio helpers: sound file resolution, WAV reading, sample-rate conversion, mixing.

The bridges mix at 8 kHz signed 16-bit (slin), 160 samples per 20 ms tick.
"""
from __future__ import annotations

import os
import wave

import numpy as np

# AudioSocket kinds for slin at each rate (docs/architecture.md §3).
KIND_BY_RATE = {8000: 0x10, 12000: 0x11, 16000: 0x12, 24000: 0x13, 32000: 0x14,
                44100: 0x15, 48000: 0x16, 96000: 0x17, 192000: 0x18}
RATE_BY_KIND = {k: r for r, k in KIND_BY_RATE.items()}
SLIN_FORMATS = {"slin": 8000, "slin12": 12000, "slin16": 16000, "slin24": 24000,
                "slin32": 32000, "slin44": 44100, "slin48": 48000, "slin96": 96000,
                "slin192": 192000}
# Codec names Asterisk knows (ast_format_cache_get); anything else is "not found" (FACT 59).
KNOWN_FORMATS = set(SLIN_FORMATS) | {
    "ulaw", "alaw", "gsm", "g722", "g726", "g726aal2", "g723", "g729", "ilbc", "lpc10",
    "speex", "speex16", "speex32", "adpcm", "testlaw", "siren7", "siren14", "opus",
    "codec2", "g719", "none", "h261", "h263", "h263p", "h264", "h265", "mpeg4", "vp8",
    "vp9", "t140", "t140red", "red", "jpeg", "png"}


def resolve_sound(media_path: str, sounds_dir: str | None) -> str:
    """``sound:<path>`` → ``<path>.wav`` if absolute, else ``<sounds_dir>/<path>.wav``."""
    if os.path.isabs(media_path):
        return media_path + ".wav"
    return os.path.join(sounds_dir or "/var/lib/asterisk/sounds", media_path + ".wav")


def read_wav_8k(path: str) -> np.ndarray | None:
    """Samples of an 8 kHz mono 16-bit WAV, or None when missing or another format
    (Asterisk's format_wav refuses other rates: docs/architecture.md §3, FACT 51)."""
    try:
        with wave.open(path, "rb") as w:
            if w.getframerate() != 8000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
                return None
            data = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error):
        return None
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Linear-interpolation resampler (good enough for tones and level checks)."""
    if src_rate == dst_rate or len(samples) == 0:
        return samples.astype(np.int16, copy=False)
    n_out = int(round(len(samples) * dst_rate / src_rate))
    x_src = np.arange(len(samples), dtype=np.float64)
    x_dst = np.arange(n_out, dtype=np.float64) * (src_rate / dst_rate)
    out = np.interp(x_dst, x_src, samples.astype(np.float64))
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def mix(frames: list[np.ndarray]) -> np.ndarray:
    """Sum frames with saturation, like softmix."""
    acc = np.zeros(len(frames[0]), dtype=np.int32)
    for f in frames:
        acc += f
    return np.clip(acc, -32768, 32767).astype(np.int16)


def to_bytes(samples: np.ndarray) -> bytes:
    return samples.astype("<i2", copy=False).tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    if len(data) % 2:
        data = data[:-1]
    return np.frombuffer(data, dtype="<i2").astype(np.int16)
