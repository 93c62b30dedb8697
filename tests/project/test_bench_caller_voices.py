"""bench/caller_voices: the benches' two callers speak the same words at telephone rate, so a bench
run with either caller asks the same questions. (Piper's durations are drawn at random, so how
much slower its slower rates speak is not asserted.)"""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.caller_voices import RATE, clip  # noqa: E402


def spoken_seconds(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, "<i2").astype(np.float32)
    frames = samples[: samples.size // 160 * 160].reshape(-1, 160)
    return float((np.sqrt((frames**2).mean(axis=1)) > 300).sum() * 160 / RATE)


@pytest.mark.models
def test_both_callers_speak_the_question_at_8_khz_trimmed_to_the_speech():
    text = "What time does the store open tomorrow?"
    for caller in ("espeak", "piper"):
        pcm, seconds = clip(caller, text, 0)
        assert seconds == pytest.approx(len(pcm) / 2 / RATE)
        assert 1.0 < spoken_seconds(pcm) <= seconds < 4.0, caller  # speech, trimmed to it


def test_an_unknown_caller_is_refused():
    with pytest.raises(ValueError, match="espeak"):
        clip("human", "Hello.", 0)
