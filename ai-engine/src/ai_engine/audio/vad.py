"""Speech onset on caller frames, in the engine, for barge-in and turn timing.

Each whole 20 ms frame goes through the shared speech gate (`voice_common.vad.SpeechGate`:
louder than `min_level_dbfs` AND webrtcvad says speech); other frames (a 276-byte tail, FACT 16)
are skipped. Onset = `min_speech_ms` of voiced frames within a short window, so a click does not
count as speech; the end comes when the window holds no voiced frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from voice_common.pcm import FRAME_MS, frame_bytes
from voice_common.vad import VAD_RATES, SpeechGate

__all__ = ["VAD_RATES", "SpeechDetector", "CallerSpeechStarted", "CallerSpeechStopped", "SpeechChange"]


@dataclass(frozen=True, slots=True)
class CallerSpeechStarted:
    """Enough voiced frames: the caller started talking."""


@dataclass(frozen=True, slots=True)
class CallerSpeechStopped:
    """No voiced frame in the window: the caller went quiet `stop_delay_s` ago."""

    stop_delay_s: float


SpeechChange = CallerSpeechStarted | CallerSpeechStopped
_STARTED = CallerSpeechStarted()


class SpeechDetector:
    def __init__(
        self, rate: int, aggressiveness: int = 2, min_speech_ms: int = 60, min_level_dbfs: float = -45.0, frame_ms: int = FRAME_MS
    ):
        self._gate = SpeechGate(rate, aggressiveness, floor_dbfs=min_level_dbfs)
        self.rate = rate
        self._frame_bytes = frame_bytes(rate, frame_ms)
        self._need = max(1, -(-min_speech_ms // frame_ms))
        self._window: deque[bool] = deque(maxlen=self._need + 1)  # allow one unvoiced frame inside
        self.speaking = False
        self.stop_delay_s = (self._need + 1) * frame_ms / 1000  # "stop" this long after the last voice
        self._stopped = CallerSpeechStopped(self.stop_delay_s)

    def feed(self, pcm: bytes) -> SpeechChange | None:
        """A change at speech onset or when the caller goes quiet, else None."""
        if len(pcm) != self._frame_bytes:
            return None
        self._window.append(self._gate.voiced(pcm))
        if not self.speaking and sum(self._window) >= self._need:
            self.speaking = True
            return _STARTED
        if self.speaking and not any(self._window):
            self.speaking = False
            return self._stopped
        return None
