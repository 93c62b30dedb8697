"""A caller who pauses mid-sentence ("I'd like a pizza and ...") is not cut off: the speculative
transcript sounds unfinished, so the end-of-turn silence is lengthened for that pause."""

from __future__ import annotations

import re

import pytest
from local_ai_fakes import FakeSTT, fake_models, http_get, make_runtime, serve, silence, vowel
from local_ai_server.client import RealtimeClient

pytestmark = pytest.mark.anyio


async def _holds(host: str) -> float:
    _, body = await http_get(f"http://{host}/metrics")
    text = body.decode() if isinstance(body, bytes) else body
    return float(re.search(r"^local_ai_turn_holds_total (\S+)$", text, re.M).group(1))


async def _one_caller(stt: FakeSTT, **vad) -> tuple[list[str], float]:
    """The events of one caller who pauses mid-sentence, and how many pauses were held."""
    vad = {"speculative_after_ms": 100, "unfinished_hold_ms": 600, "unclear_hold_ms": 0, **vad}
    async with serve(make_runtime(fake_models(stt=stt), vad=vad)) as host:
        before = await _holds(host)
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000, silence_duration_ms=500)
            mark = len(client.events)
            # A 700 ms pause: longer than the 500 ms end-of-turn silence, shorter than 500 + 600 held.
            await client.send_audio(vowel(0.6) + silence(0.7), realtime=True)
            # The fake STT says the same words again: this pause is held too, so it needs 1.1 s.
            await client.send_audio(vowel(0.6) + silence(1.4), realtime=True)
            await client.wait_for("response.done", after=mark)
        held = await _holds(host) - before
    return [e["type"] for e in client.events[mark:]], held


async def test_an_unfinished_sentence_is_one_turn():
    order, held = await _one_caller(FakeSTT("I would like a large pizza and"))
    assert order.count("input_audio_buffer.speech_stopped") == 1
    assert order.count("response.created") == 1
    assert held == 2  # both pauses sounded unfinished


async def test_without_the_hold_the_same_pause_ends_the_turn():
    order, _ = await _one_caller(FakeSTT("I would like a large pizza and"), unfinished_hold_ms=0)
    assert order.count("input_audio_buffer.speech_stopped") == 2


async def test_a_sentence_that_may_go_on_is_held_by_the_unclear_hold():
    """Neither unfinished nor a whole question (Whisper closes any fragment with a full stop):
    `vad.unclear_hold_ms` (600 by default) keeps the 700 ms pause inside the turn."""
    order, held = await _one_caller(FakeSTT("My order number is 472."), unclear_hold_ms=600)
    assert order.count("input_audio_buffer.speech_stopped") == 1
    assert held == 2


async def test_a_whole_statement_ends_after_its_shorter_hold():
    """A request that reads as whole waits `vad.statement_hold_ms` (100 by default), not the
    unclear hold: the 700 ms pause (more than 500 + 100) ends the turn."""
    order, _ = await _one_caller(FakeSTT("I would like to book a table for two."), unclear_hold_ms=600,
                                 statement_hold_ms=100)
    assert order.count("input_audio_buffer.speech_stopped") == 2
    order, _ = await _one_caller(FakeSTT("I would like to book a table for two."), unclear_hold_ms=600,
                                 statement_hold_ms=None)  # unset: the unclear hold keeps it one turn
    assert order.count("input_audio_buffer.speech_stopped") == 1


async def test_a_finished_sentence_is_not_held():
    order, held = await _one_caller(FakeSTT("What time do you open?"))
    assert order.count("input_audio_buffer.speech_stopped") == 2
    assert held == 0


class FakeTurnEnd:
    """The semantic end-of-turn check (models/turn_end.py) with a fixed answer; records what it was asked."""

    def __init__(self, probability: float) -> None:
        self.answer = probability
        self.asked: list[str] = []

    def probability(self, words: str) -> float:
        self.asked.append(words)
        return self.answer


async def _early_end(stt: FakeSTT, finished_silence_ms: int,
                     turn_end: FakeTurnEnd | None = None) -> tuple[list[str], list[dict]]:
    """A caller who says a whole question, then is silent for 350 ms, then speaks on."""
    models = fake_models(stt=stt)
    models.turn_end = turn_end
    async with serve(make_runtime(models, vad={"speculative_after_ms": 100, "unclear_hold_ms": 0,
                                               "finished_silence_ms": finished_silence_ms})) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000, silence_duration_ms=500)
            mark = len(client.events)
            await client.send_audio(vowel(0.6) + silence(0.35), realtime=True)
            await client.send_audio(vowel(0.6) + silence(1.0), realtime=True)
            await client.wait_for("response.done", after=mark)
            events = client.events[mark:]
    return [e["type"] for e in events], events


async def test_a_clearly_finished_question_ends_the_turn_before_the_normal_silence():
    """350 ms of silence after "What time do you open today?" answers it (with vad.finished_silence_ms
    250), where the normal 500 ms would have waited on; the answer is the speculative one."""
    order, events = await _early_end(FakeSTT("What time do you open today?"), finished_silence_ms=250)
    assert order.count("input_audio_buffer.speech_stopped") == 2
    first_turn = order.index("input_audio_buffer.committed")
    assert "response.created" in order[first_turn:order.index("input_audio_buffer.speech_started", first_turn)]
    metrics = next(e for e in events if e["type"] == "x_local.turn.metrics")
    assert 250 <= metrics["speech_stopped_ms"] < 500


async def test_the_same_short_pause_does_not_end_an_unclear_sentence():
    order, _ = await _early_end(FakeSTT("My order number is 472."), finished_silence_ms=250)
    assert order.count("input_audio_buffer.speech_stopped") == 1


async def test_a_statement_the_model_finds_finished_ends_the_turn_early():
    """Not a question, so the rules cannot tell; the semantic check's 0.9 (>= vad.end_of_turn_probability,
    0.3) ends the turn after the 350 ms pause, as for a whole question."""
    check = FakeTurnEnd(0.9)
    order, _ = await _early_end(FakeSTT("I would like to change my delivery address."), 250, check)
    assert order.count("input_audio_buffer.speech_stopped") == 2
    assert check.asked and set(check.asked) == {"I would like to change my delivery address."}


async def test_a_statement_the_model_finds_unfinished_waits_for_the_normal_silence():
    check = FakeTurnEnd(0.05)
    order, _ = await _early_end(FakeSTT("I would like to change my delivery address."), 250, check)
    assert order.count("input_audio_buffer.speech_stopped") == 1
    assert check.asked


async def test_the_model_is_not_asked_where_the_rules_decide():
    check = FakeTurnEnd(0.9)
    order, _ = await _early_end(FakeSTT("My order number is 472."), 250, check)
    assert order.count("input_audio_buffer.speech_stopped") == 1  # a number read out: never early
    assert check.asked == []


async def test_each_turn_reports_its_stages_on_the_wire_and_in_metrics():
    """The breakdown a caller's wait is made of: end-of-turn wait, STT, LLM first token, first
    sentence TTS (x_local.turn.metrics and local_ai_turn_stage_seconds)."""
    async with serve(make_runtime(fake_models())) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000)
            mark = len(client.events)
            await client.send_audio(vowel(1.0) + silence(0.8), realtime=False)
            turn = await client.wait_for("x_local.turn.metrics", after=mark)
            _, body = await http_get(f"http://{host}/metrics")
    assert turn["status"] == "completed"
    for stage in ("speech_stopped_ms", "stt_ms", "llm_first_token_ms", "first_sentence_tts_ms"):
        assert isinstance(turn[stage], int) and turn[stage] >= 0
    text = body.decode() if isinstance(body, bytes) else body
    for stage in ("end_of_turn_wait", "stt", "llm_first_token", "first_sentence_tts"):
        assert f'local_ai_turn_stage_seconds_count{{stage="{stage}"}}' in text
