"""bench/turn_taking runs the server's own end-of-turn decision (issue 15): a caller pausing
mid-sentence is cut off or not exactly as the listener would decide, with the STT's wall time
as the time the pause waits for its transcript."""
import sys
from pathlib import Path

import numpy as np
from local_ai_fakes import silence, vowel
from local_ai_server.speech.vad import VadParams

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.turn_taking import run_one  # noqa: E402

RATE = 16000


def _caller(*parts) -> tuple[np.ndarray, int]:
    """16 kHz audio of speech and pauses, then a long silence; and where the last word ends (ms)."""
    audio = b"".join(vowel(p, RATE) if speaking else silence(p, RATE) for speaking, p in parts)
    end_ms = len(audio) // 2 * 1000 // RATE
    return np.frombuffer(audio + silence(2.0, RATE), dtype="<i2").astype(np.int16), end_ms


def _stt(text: str, ms: float = 100):
    return lambda key, audio: (text, ms)


PARAMS = VadParams(silence_duration_ms=500, speculative_after_ms=120)
PAUSED = _caller((True, 0.8), (False, 0.7), (True, 0.8))  # a 700 ms pause mid-sentence


def test_a_long_pause_cuts_the_caller_off_without_a_hold():
    audio, end = PAUSED
    result = run_one(0, audio, end, PARAMS, 0, _stt("I would like a pizza and"))
    assert result["cut_off"]


def test_an_unfinished_transcript_holds_the_pause():
    audio, end = PAUSED
    result = run_one(0, audio, end, PARAMS, 600, _stt("I would like a pizza and"))
    assert not result["cut_off"] and result["answered"]
    assert result["holds"]


def test_a_whole_question_ends_the_turn_early_and_can_cut_off():
    audio, end = PAUSED
    result = run_one(0, audio, end, PARAMS, 600, _stt("Could you tell me your opening hours?"), finished_ms=300)
    assert result["cut_off"]  # the text alone cannot know more words follow
    audio, end = _caller((True, 1.2))
    result = run_one(0, audio, end, PARAMS, 600, _stt("Could you tell me your opening hours?"), finished_ms=300)
    assert not result["cut_off"] and 300 <= result["end_of_turn_wait_ms"] < 500


def test_an_unclear_transcript_gets_its_own_hold():
    audio, end = PAUSED
    unclear = _stt("My order number is 472.")
    assert run_one(0, audio, end, PARAMS, 600, unclear)["cut_off"]
    assert not run_one(0, audio, end, PARAMS, 600, unclear, unclear_ms=600)["cut_off"]


def test_a_whole_statement_waits_the_statement_hold_not_the_unclear_one():
    """A 700 ms pause after "I would like to book a table for two." ends the turn with the 100 ms
    statement hold (600 ms in all); left unset, the unclear hold (1.1 s) keeps it one turn."""
    audio, end = PAUSED
    statement = _stt("I would like to book a table for two.")
    assert run_one(0, audio, end, PARAMS, 800, statement, unclear_ms=600, statement_ms=100)["cut_off"]
    assert not run_one(0, audio, end, PARAMS, 800, statement, unclear_ms=600)["cut_off"]
    audio, end = _caller((True, 1.2))
    result = run_one(0, audio, end, PARAMS, 800, statement, unclear_ms=600, statement_ms=100)
    assert not result["cut_off"] and 600 <= result["end_of_turn_wait_ms"] < 700
