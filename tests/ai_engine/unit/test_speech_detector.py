"""Engine-side speech onset: voiced frames for min_speech_ms start speech; quiet noise never does."""
import numpy as np

from ai_engine.audio.vad import CallerSpeechStarted, CallerSpeechStopped, SpeechDetector
from engine_harness import tone
from local_ai_server.client import espeak

FRAME = 320


def frames(pcm):
    return [pcm[i : i + FRAME] for i in range(0, len(pcm) - FRAME + 1, FRAME)]


def test_speech_starts_within_100ms_of_its_onset_and_stops_after_it_ends():
    speech = espeak("Hello, can you hear me?")
    lead = b"\x00" * 320 * 10  # 200 ms of silence first
    det = SpeechDetector(8000, min_speech_ms=60)
    changes = [(i, c) for i, f in enumerate(frames(lead + speech + b"\x00" * 320 * 25)) if (c := det.feed(f))]
    loud = [i for i, f in enumerate(frames(lead + speech)) if max(np.frombuffer(f, "<i2"), default=0) > 1000]
    assert isinstance(changes[0][1], CallerSpeechStarted) and 0 <= changes[0][0] - loud[0] <= 5
    assert isinstance(changes[-1][1], CallerSpeechStopped) and 0 < changes[-1][0] - loud[-1] <= 6  # quiet for 4-5 frames


def test_line_noise_below_the_level_gate_is_not_speech():
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(8000) * 150).astype("<i2").tobytes()  # about -47 dBFS
    det = SpeechDetector(8000, min_speech_ms=60, min_level_dbfs=-45)
    assert all(det.feed(f) is None for f in frames(noise))


def test_a_click_shorter_than_min_speech_does_not_start_speech():
    det = SpeechDetector(8000, min_speech_ms=100)
    assert all(det.feed(f) is None for f in frames(tone(600, 40) + b"\x00" * 320 * 10))


def test_partial_frames_are_skipped():
    assert SpeechDetector(8000).feed(b"\x10\x00" * 138) is None  # the 276-byte tail of FACT 16
