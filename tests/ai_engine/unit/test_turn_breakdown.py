"""The per-turn stage breakdown: from local-ai-server's own timings and the engine's total, in
the call log's `turn.breakdown` line and in /metrics (ai_engine_turn_latency_seconds{stage})."""

import anyio
import pytest
from ai_engine.calls.turn_timer import TurnTimer
from prometheus_client import REGISTRY

pytestmark = pytest.mark.anyio

SERVER = {"speech_stopped_ms": 300.0, "stt_ms": 120.0, "transcript_ms": 310.0, "first_token_ms": 250.0,
          "first_audio_ms": 420.0, "llm_first_token_ms": 90.0, "first_sentence_tts_ms": 60.0}


def count(stage: str) -> float:
    return REGISTRY.get_sample_value("ai_engine_turn_latency_seconds_count", {"stage": stage, "mode": "stream"}) or 0.0


async def test_a_turn_breaks_down_into_the_stages_a_caller_waits_for():
    timer = TurnTimer()
    timer.speech_stopped()
    await anyio.sleep(0.01)
    timer.first_audio_out("stream")
    before = {s: count(s) for s in ("end_of_turn_wait", "stt", "llm_first_token", "first_sentence_tts",
                                    "engine_transport")}
    timer.server_metrics(SERVER)
    stages = timer.breakdown(SERVER)
    assert stages["end_of_turn_wait"] == 300.0
    assert stages["stt"] == 120.0
    assert stages["llm_first_token"] == 90.0
    assert stages["first_sentence_tts"] == 60.0
    # The engine's total (>= 10 ms here) less the server's first audio (420 ms from the end of speech).
    assert stages["engine_transport"] == pytest.approx(timer.turns[-1]["total"] - 420.0)
    assert all(count(s) == before[s] + 1 for s in before)


def test_an_older_server_without_the_new_stages_gives_what_it_can():
    timer = TurnTimer()
    assert timer.breakdown({"speech_stopped_ms": 500.0, "stt_ms": 200.0}) == {"end_of_turn_wait": 500.0,
                                                                              "stt": 200.0}
