"""The semantic end-of-turn check with the real bundled SmolLM2-135M: whole utterances a caller
says score above the default threshold (`vad.end_of_turn_probability`, 0.3), fragments a caller
pauses after score below it. Phrasings are not from bench/turn_taking (where the threshold was
chosen): a held-out check that the model, not the tuning, tells them apart. What it does not
do well (plain statements such as "I want to cancel my order." score ~0.01 and wait the unclear
hold) is measured in bench/turn_taking, not asserted here."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from local_ai_server.config import Settings
from local_ai_server.models.bundled import BUNDLED_LLM
from local_ai_server.models.turn_end import TurnEndModel

pytestmark = pytest.mark.models

THRESHOLD = Settings().vad.end_of_turn_probability


@pytest.fixture(scope="module")
def model():
    return TurnEndModel(BUNDLED_LLM.path())


@pytest.mark.parametrize("words", [
    "What time do you open on Saturday?",
    "Can I book a full service for next week?",
    "Could you send me the invoice again?",
])
def test_a_whole_utterance_likely_ends_there(model, words):
    assert model.probability(words) >= THRESHOLD


@pytest.mark.parametrize("words", [
    "My name is.",
    "I need bread.",
    "I want to book a table for.",
    "The problem is that.",
])
def test_a_fragment_does_not(model, words):
    assert model.probability(words) < THRESHOLD


def test_checks_from_several_threads_at_once_give_each_its_own_answer(model):
    """Four callers pausing together: the runtime runs checks on `cpu_jobs` threads at once. One
    llama.cpp context used by two threads aborted the whole server (GGML_ASSERT in get_rows, seen
    with bench latency --concurrency 4); each check must get the answer it gets alone."""
    words = ["What time do you open on Saturday?", "My name is.", "I need bread.",
             "Could you send me the invoice again?"] * 4
    alone = {w: model.probability(w) for w in set(words)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(model.probability, words))
    assert together == pytest.approx([alone[w] for w in words], abs=1e-4)

