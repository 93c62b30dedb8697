"""Short bundled prompts the engine plays by itself (provider lost, goodbye), as 8 kHz PCM."""

from __future__ import annotations

import wave
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from .pcm import ASTERISK_FILE_RATE


@lru_cache(maxsize=8)
def load_prompt(name: str, override: Path | None = None) -> bytes:
    """PCM of `assets/<name>.wav`, or of `override`; it must be 8 kHz mono 16-bit."""
    source = override if override is not None else files("ai_engine.assets").joinpath(f"{name}.wav")
    with source.open("rb") as f, wave.open(f) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (ASTERISK_FILE_RATE, 1, 2):
            raise ValueError(f"{source}: prompts must be 8 kHz mono 16-bit WAV")
        return w.readframes(w.getnframes())
