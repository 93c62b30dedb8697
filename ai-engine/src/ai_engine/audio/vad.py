"""Speech onset on caller frames, in the engine (webrtcvad), for barge-in and turn timing.

webrtcvad takes 10/20/30 ms frames at 8/16/32/48 kHz; other frames (a 276-byte tail, FACT 16)
are skipped. Onset = `min_speech_ms` of voiced frames within a short window, so a click does not count as
speech; frames quieter than `min_level_dbfs` are never voiced (webrtcvad alone calls steady
noise at -45 dBFS speech).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import webrtcvad

VAD_RATES = (8000, 16000, 32000, 48000)


class SpeechDetector:
    def __init__(
        self, rate: int, aggressiveness: int = 2, min_speech_ms: int = 60, min_level_dbfs: float = -45.0, frame_ms: int = 20
    ):
        if rate not in VAD_RATES:
            raise ValueError(f"webrtcvad needs one of {VAD_RATES} Hz, got {rate}")
        self._vad = webrtcvad.Vad(aggressiveness)
        self.rate = rate
        self._frame_bytes = rate * frame_ms // 1000 * 2
        self._need = max(1, -(-min_speech_ms // frame_ms))
        self._min_rms = 32768.0 * 10 ** (min_level_dbfs / 20)
        self._window: deque[bool] = deque(maxlen=self._need + 1)  # allow one unvoiced frame inside
        self.speaking = False
        self.stop_delay_s = self._window.maxlen * frame_ms / 1000  # "stop" comes this long after the last voice

    def feed(self, pcm: bytes) -> str | None:
        """Returns "start" at speech onset, "stop" when the caller goes quiet, else None."""
        if len(pcm) != self._frame_bytes:
            return None
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        loud = math.sqrt(float(np.dot(samples, samples)) / samples.size) >= self._min_rms
        voiced = loud and self._vad.is_speech(pcm, self.rate)
        self._window.append(voiced)
        if not self.speaking and sum(self._window) >= self._need:
            self.speaking = True
            return "start"
        if self.speaking and not any(self._window):
            self.speaking = False
            return "stop"
        return None
