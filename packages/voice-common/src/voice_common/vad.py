"""The one speech gate: is this frame of caller audio voiced?

A frame is voiced when it is louder than an energy floor (RMS in dB full scale) AND webrtcvad
calls it speech. webrtcvad alone calls steady line noise speech, and keeps calling 80-170 ms
after speech "voiced" even when the line is digitally silent (its hangover); the floor puts the
end of speech where it really is and keeps clicks and hum from starting a turn.

The floor is each service's setting, with its own default, because the two ask different
questions (see their settings): the engine gates barge-in on a phone line (8 kHz, line noise
must not interrupt the agent: -45 dBFS), local-ai-server finds the end of a turn in audio the
engine already passed (a quiet word at the end of a phrase must not end the turn: -55 dBFS).

Convention for the detectors built on this gate (the engine's SpeechDetector, the server's
Endpointer): they take frames and return typed, frozen event dataclasses, never strings.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np
import webrtcvad

with warnings.catch_warnings():  # deprecated in 3.11, gone in 3.13 (where audioop-lts provides it)
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

VAD_RATES = (8000, 16000, 32000, 48000)  # what webrtcvad accepts
VAD_FRAME_MS = (10, 20, 30)


class Classifier(Protocol):
    def is_speech(self, buf: bytes, sample_rate: int) -> bool: ...


def floor_rms(dbfs: float) -> float:
    """The RMS of int16 samples at `dbfs` dB full scale (0 dBFS = 32768)."""
    return 32768.0 * 10 ** (dbfs / 20)


class SpeechGate:
    """Classifies whole 10/20/30 ms frames at one of `VAD_RATES`; `classifier` replaces webrtcvad
    in tests."""

    def __init__(self, rate: int, aggressiveness: int, floor_dbfs: float, classifier: Classifier | None = None) -> None:
        if rate not in VAD_RATES:
            raise ValueError(f"webrtcvad needs one of {VAD_RATES} Hz, got {rate}")
        self.rate = rate
        self.aggressiveness = aggressiveness
        self.floor_dbfs = floor_dbfs
        self._floor = floor_rms(floor_dbfs)
        self._vad: Classifier = classifier or webrtcvad.Vad(aggressiveness)

    def voiced(self, frame: bytes) -> bool:
        """s16le frame: louder than the floor and speech to webrtcvad. The RMS is the stdlib's C
        `audioop.rms` (whole numbers; `audioop-lts` on Python 3.13+): per 20 ms frame, the engine's
        hot path, a tenth of what the numpy equivalent costs (bench/media_load)."""
        return audioop.rms(frame, 2) >= self._floor and self._vad.is_speech(frame, self.rate)

    def voiced_samples(self, frame: np.ndarray) -> bool:
        """int16 frame: louder than the floor and speech to webrtcvad."""
        return self.voiced(frame.astype("<i2", copy=False).tobytes())
