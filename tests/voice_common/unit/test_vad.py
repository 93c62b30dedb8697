"""The speech gate: voiced = louder than the floor AND webrtcvad says speech."""
import numpy as np
import pytest

from voice_common.vad import SpeechGate, floor_rms


class Always:
    def __init__(self):
        self.calls = 0

    def is_speech(self, buf, rate):
        self.calls += 1
        return True


def noise(level, n=160, seed=1):
    return (np.random.default_rng(seed).standard_normal(n) * level).astype(np.int16)


def test_frames_below_the_floor_are_never_voiced_whatever_webrtcvad_says():
    vad = Always()
    gate = SpeechGate(8000, 2, floor_dbfs=-45.0, classifier=vad)
    quiet = noise(150)  # about -47 dBFS
    assert not gate.voiced(quiet.tobytes())
    assert not gate.voiced_samples(quiet)
    assert vad.calls == 0  # the cheap check first
    assert gate.voiced(noise(400).tobytes())  # about -38 dBFS


def test_each_service_chooses_its_floor():
    frame = noise(100, n=320)  # about -50 dBFS: speech to the server's end-of-turn gate, not to barge-in
    assert SpeechGate(16000, 2, floor_dbfs=-55.0, classifier=Always()).voiced_samples(frame)
    assert not SpeechGate(16000, 2, floor_dbfs=-45.0, classifier=Always()).voiced_samples(frame)


def test_webrtcvad_decides_above_the_floor():
    gate = SpeechGate(8000, 3, floor_dbfs=-60.0)
    hum = (np.sin(np.arange(160) * 2 * np.pi * 50 / 8000) * 3000).astype(np.int16)
    silence_frames = [gate.voiced(hum.tobytes()) for _ in range(20)]
    assert not any(silence_frames[5:])


def test_rates_webrtcvad_cannot_take_are_refused():
    with pytest.raises(ValueError, match="webrtcvad"):
        SpeechGate(24000, 2, floor_dbfs=-45.0)


def test_the_floor_is_an_rms_level():
    assert floor_rms(0.0) == 32768.0
    at_floor = SpeechGate(8000, 2, floor_dbfs=-30.0, classifier=Always())  # RMS 1036.2
    assert at_floor.voiced(np.full(160, 1037, np.int16).tobytes())
    assert not at_floor.voiced(np.full(160, 1036, np.int16).tobytes())
    assert not at_floor.voiced(np.full(160, -1036, np.int16).tobytes())
