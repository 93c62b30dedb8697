"""End-of-turn detection (sans-IO) over the shared speech gate (`voice_common.vad.SpeechGate`:
webrtcvad and an energy floor; the floor's default here, -55 dBFS, is lower than the engine's
barge-in floor because a quiet last word must not end the turn, see `vad.energy_floor_dbfs`).

Audio goes in as 16 kHz int16 samples in any amount; `Endpointer.feed` cuts it into 20 ms frames,
classifies each and returns what happened, in order:

- `SpeechStarted`: enough voiced audio within a short window (a cough or click does not count).
- `Paused`: the current silence run reached `speculative_after_ms`; the turn so far may be
  transcribed early (speculatively).
- `Resumed`: voiced audio came back after a `Paused`; early work must be dropped.
- `SpeechStopped`: the silence run reached `silence_duration_ms` (or the turn hit `max_turn_ms`);
  carries the turn's audio (with `prefix_padding_ms` before the start). `hold(extra_ms)` lengthens
  the silence needed for the current pause only (held while its speculative transcript is being
  made, kept when the words sound unfinished); `release(silence_ms)` sets it for this pause (the
  normal silence, or a shorter one when the words clearly ended); voiced audio or the stop forgets it.

Times are audio times in ms since the buffer started (`audio_start_ms`/`audio_end_ms` in the
protocol); `end_ms` of a stop is where the last voiced frame ended (the real end of speech).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from voice_common.pcm import FRAME_MS, samples_for_ms
from voice_common.vad import Classifier, SpeechGate

RATE = 16000
FRAME_SAMPLES = samples_for_ms(RATE, FRAME_MS)


@dataclass(slots=True)
class SpeechStarted:
    start_ms: int


@dataclass(slots=True)
class Paused:
    end_ms: int  # end of the last voiced frame
    audio: np.ndarray  # the turn so far (int16, 16 kHz)
    voiced_ms: int


@dataclass(slots=True)
class Resumed:
    at_ms: int


@dataclass(slots=True)
class SpeechStopped:
    start_ms: int
    end_ms: int  # end of the last voiced frame
    audio: np.ndarray  # the whole turn (int16, 16 kHz), prefix padding included
    voiced_ms: int  # how much of it webrtcvad called speech
    forced: bool = False  # cut by max_turn_ms rather than by silence


VadEvent = SpeechStarted | Paused | Resumed | SpeechStopped


@dataclass(slots=True)
class VadParams:
    aggressiveness: int = 2
    silence_duration_ms: int = 500
    prefix_padding_ms: int = 300
    start_speech_ms: int = 60
    start_window_ms: int = 100
    max_turn_ms: int = 30000
    speculative_after_ms: int = 200  # 0: never emit Paused
    energy_floor_dbfs: float = -55.0  # quieter frames are silence whatever webrtcvad says


class Endpointer:
    def __init__(self, params: VadParams, classifier: Classifier | None = None) -> None:
        self.params = params
        self._classifier = classifier
        self._gate = SpeechGate(RATE, params.aggressiveness, params.energy_floor_dbfs, classifier)
        self._pending = np.zeros(0, dtype=np.int16)
        self._frames_seen = 0
        self.reset()

    def reset(self) -> None:
        """Forget any turn in progress (keeps the audio clock running)."""
        p = self.params
        self._pending = np.zeros(0, dtype=np.int16)
        self._window: deque[tuple[np.ndarray, bool]] = deque(maxlen=max(1, p.start_window_ms // FRAME_MS))
        self._prefix: deque[np.ndarray] = deque(maxlen=max(1, p.prefix_padding_ms // FRAME_MS))
        self._in_speech = False
        self._turn: list[np.ndarray] = []
        self._turn_start_ms = 0
        self._last_voiced_end_ms = 0
        self._voiced_frames = 0
        self._silence_frames = 0
        self._paused = False
        self._pause_silence_ms: int | None = None  # silence that ends the current pause; None: the normal one

    def hold(self, extra_ms: int) -> None:
        """The current pause needs `extra_ms` more silence to end the turn (no-op outside speech)."""
        if self._in_speech:
            self._pause_silence_ms = max(self._pause_silence_ms or 0, self.params.silence_duration_ms + extra_ms)

    def release(self, silence_ms: int | None = None) -> SpeechStopped | None:
        """Replace the hold: the current pause ends the turn once it reaches `silence_ms` (default
        `silence_duration_ms`; shorter when the words clearly ended, longer when they did not); the
        stop when it already has (audio ran on while the hold waited)."""
        self._pause_silence_ms = silence_ms
        if self._in_speech and self._silence_frames * FRAME_MS >= self._pause_target_ms():
            return self._stop(forced=False)
        return None

    def _pause_target_ms(self) -> int:
        return self.params.silence_duration_ms if self._pause_silence_ms is None else self._pause_silence_ms

    @property
    def held(self) -> bool:
        return self._pause_silence_ms is not None and self._pause_silence_ms > self.params.silence_duration_ms

    def set_params(self, params: VadParams) -> None:
        if (params.aggressiveness, params.energy_floor_dbfs) != (self.params.aggressiveness,
                                                                 self.params.energy_floor_dbfs):
            self._gate = SpeechGate(RATE, params.aggressiveness, params.energy_floor_dbfs, self._classifier)
        self.params = params
        self.reset()

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def now_ms(self) -> int:
        return self._frames_seen * FRAME_MS

    def feed(self, samples: np.ndarray) -> list[VadEvent]:
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        whole = samples.size - samples.size % FRAME_SAMPLES
        self._pending = samples[whole:].copy()
        events: list[VadEvent] = []
        for offset in range(0, whole, FRAME_SAMPLES):
            frame = samples[offset : offset + FRAME_SAMPLES]
            voiced = self._gate.voiced_samples(frame)
            self._frames_seen += 1
            event = self._frame(frame, voiced)
            if event is not None:
                events.extend(event)
        return events

    def _frame(self, frame: np.ndarray, voiced: bool) -> list[VadEvent] | None:
        p = self.params
        now = self.now_ms  # end of this frame
        if not self._in_speech:
            self._window.append((frame, voiced))
            voiced_ms = sum(FRAME_MS for _, v in self._window if v)
            if voiced_ms < p.start_speech_ms:
                self._prefix.append(frame)
                return None
            # Speech starts at the first voiced frame of the window; padding reaches back before it.
            window = list(self._window)
            first_voiced = next(i for i, (_, v) in enumerate(window) if v)
            start_ms = now - (len(window) - first_voiced) * FRAME_MS
            self._in_speech = True
            self._turn = list(self._prefix) + [f for f, _ in window]
            self._turn_start_ms = now - len(self._turn) * FRAME_MS
            self._voiced_frames = sum(1 for _, v in window if v)
            self._silence_frames = 0
            for i in range(len(window) - 1, -1, -1):
                if window[i][1]:
                    break
                self._silence_frames += 1
            self._last_voiced_end_ms = now - self._silence_frames * FRAME_MS
            self._paused = False
            self._window.clear()
            self._prefix.clear()
            return [SpeechStarted(start_ms=start_ms)]

        self._turn.append(frame)
        events: list[VadEvent] = []
        if voiced:
            self._voiced_frames += 1
            self._silence_frames = 0
            self._last_voiced_end_ms = now
            self._pause_silence_ms = None
            if self._paused:
                self._paused = False
                events.append(Resumed(at_ms=now - FRAME_MS))
        else:
            self._silence_frames += 1
            silence_ms = self._silence_frames * FRAME_MS
            if silence_ms >= self._pause_target_ms():
                events.append(self._stop(forced=False))
                return events
            if p.speculative_after_ms and not self._paused and silence_ms >= p.speculative_after_ms:
                self._paused = True
                events.append(Paused(end_ms=self._last_voiced_end_ms, audio=np.concatenate(self._turn),
                                     voiced_ms=self._voiced_frames * FRAME_MS))
        if now - self._turn_start_ms >= p.max_turn_ms:
            events.append(self._stop(forced=True))
        return events or None

    def force_stop(self) -> SpeechStopped | None:
        """End the turn in progress now (a client commit); None when there is no speech."""
        return self._stop(forced=True) if self._in_speech else None

    def _stop(self, forced: bool) -> SpeechStopped:
        event = SpeechStopped(
            start_ms=self._turn_start_ms,
            end_ms=self.now_ms if forced else self._last_voiced_end_ms,
            audio=np.concatenate(self._turn),
            voiced_ms=self._voiced_frames * FRAME_MS,
            forced=forced,
        )
        self._in_speech = False
        self._turn = []
        self._paused = False
        self._pause_silence_ms = None
        self._silence_frames = 0
        self._window.clear()
        self._prefix.clear()
        return event
