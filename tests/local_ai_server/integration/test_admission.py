"""An overloaded server degrades politely, never silently (issue 15, item 2): a turn whose first
audio is predicted late hears the filler first (and a metric counts it), a turn under the bound
hears none, and past the harder bound new sessions are refused with an error the engine turns
into its hold prompt and failure context. Fake models, real sockets.

The load is the state admission reads (admission.py): answers of other calls on their way to
their first audio, registered up front, so that no test depends on how fast this machine is."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from engine_harness import eventually, running_rig
from local_ai_fakes import FakeLLM, FakeTTS, fake_models, http_get, make_runtime, serve, silence, vowel
from local_ai_server.client import RealtimeClient
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.anyio

QUESTION = vowel(1.2) + silence(0.8)
FILLER = "One moment, please."
# One CPU place, half a second of first-audio work per answer: five other answers on their way
# make any turn's first audio at least 3 s away; alone it is half a second plus the time spent.
ADMISSION = {"filler_after_ms": 3000, "first_audio_cost_ms": 500, "refuse_sessions_after_ms": 0}


def loaded_runtime(others_on_the_way: int, tts: FakeTTS | None = None, **admission):
    # No speculative answer: one made during the pause could have its first sentence ready by the
    # time the turn ends (then no filler is due), which would make the test depend on timing.
    runtime = make_runtime(fake_models(tts=tts), admission={**ADMISSION, **admission}, concurrency={"cpu_jobs": 1},
                           vad={"speculative_response": False})
    works = [runtime.admission.begin() for _ in range(others_on_the_way)]
    return runtime, works


async def fillers_counted(host: str, why: str = "predicted") -> float:
    _, body = await http_get(f"http://{host}/metrics")
    match = re.search(rb'^local_ai_turn_fillers_total{why="%s"} (\S+)$' % why.encode(), body, re.M)
    return float(match.group(1)) if match else 0.0


async def answered_turn(host: str) -> tuple[list[dict], int]:
    async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=8000)
        mark = len(client.events)
        await client.send_audio(QUESTION, rate=8000, realtime=False)
        await client.wait_for("response.done", after=mark)
    return client.events[mark:], mark


def output(events: list[dict]) -> list[tuple[str, object]]:
    """The response's transcript and audio deltas in the order sent: ("text", str) / ("audio", bytes)."""
    out: list[tuple[str, object]] = []
    for e in events:
        if e["type"] == "response.output_audio_transcript.delta":
            out.append(("text", e["delta"]))
        elif e["type"] == "response.output_audio.delta":
            out.append(("audio", base64.b64decode(e["delta"])))
    return out


async def test_an_overloaded_turn_hears_the_filler_before_its_answer_and_it_is_counted():
    tts = FakeTTS()
    runtime, _ = loaded_runtime(others_on_the_way=5, tts=tts)
    async with serve(runtime) as host:
        before = await fillers_counted(host)
        events, _ = await answered_turn(host)
        assert await fillers_counted(host) == before + 1
    parts = output(events)
    assert parts[0] == ("text", FILLER)
    filler_audio = b""
    for kind, value in parts[1:]:
        if kind == "text":
            break
        filler_audio += value
    # All of the filler's audio (as the TTS spoke it once, at start-up) before the answer's first word.
    assert len(filler_audio) == round(tts.duration_s(FILLER) * 8000) * 2
    assert np.abs(np.frombuffer(filler_audio, "<i2")).max() > 1000
    assert tts.texts.count(FILLER) == 1  # synthesised at start-up, not per turn
    texts = [v for k, v in parts if k == "text"]
    assert texts[1] == " Sure thing,"
    done = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    assert done["transcript"].startswith(f"{FILLER} Sure thing,")


async def test_under_the_bound_no_filler_is_spoken_and_none_counted():
    runtime, _ = loaded_runtime(others_on_the_way=0)
    async with serve(runtime) as host:
        before = await fillers_counted(host)
        events, _ = await answered_turn(host)
        assert await fillers_counted(host) == before
    parts = output(events)
    assert parts[0] == ("text", "Sure thing,")
    assert FILLER not in json.dumps(events)


async def test_an_answer_predicted_in_time_that_is_late_at_the_bound_hears_the_filler_then():
    # Nothing else on its way: the answer is predicted in time. Its model is slow (other callers'
    # jobs in the queue would do the same): no first piece is being synthesised at the bound.
    models = fake_models(llm=FakeLLM(reply="Sure thing, nine.", token_delay=0.8))
    runtime = make_runtime(models, admission={**ADMISSION, "filler_after_ms": 1600}, concurrency={"cpu_jobs": 1},
                           vad={"speculative_response": False})
    async with serve(runtime) as host:
        bound, predicted = await fillers_counted(host, "bound"), await fillers_counted(host, "predicted")
        events, _ = await answered_turn(host)
        assert await fillers_counted(host, "bound") == bound + 1
        assert await fillers_counted(host, "predicted") == predicted
    texts = [v for k, v in output(events) if k == "text"]
    assert texts == [FILLER, " Sure thing,", " nine."]


async def test_an_answer_already_being_synthesised_at_the_bound_gets_no_filler():
    models = fake_models(tts=FakeTTS(delay=1.5))  # its first piece's TTS runs across the bound
    runtime = make_runtime(models, admission={**ADMISSION, "filler_after_ms": 1600}, concurrency={"cpu_jobs": 1},
                           vad={"speculative_response": False})
    async with serve(runtime) as host:
        before = await fillers_counted(host, "bound")
        events, _ = await answered_turn(host)
        assert await fillers_counted(host, "bound") == before
    assert FILLER not in json.dumps(events)


async def test_the_filler_stays_out_of_what_the_model_reads_next_time():
    runtime, _ = loaded_runtime(others_on_the_way=5)
    llm = runtime.models.llm
    async with serve(runtime) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=8000)
        for _ in range(2):
            mark = len(client.events)
            await client.send_audio(QUESTION, rate=8000, realtime=False)
            await client.wait_for("response.done", after=mark)
    assistant = [m["content"] for m in llm.prompts[-1] if m["role"] == "assistant"]
    assert assistant and not any(FILLER in text for text in assistant)


async def test_past_the_harder_bound_new_sessions_are_refused_with_overloaded_then_admitted_again():
    runtime, works = loaded_runtime(others_on_the_way=5, refuse_sessions_after_ms=2000)
    async with serve(runtime) as host:
        with pytest.raises(InvalidStatus) as info:
            async with RealtimeClient.connect(f"ws://{host}/v1/realtime"):
                pass
        assert info.value.response.status_code == 503
        assert json.loads(info.value.response.body)["error"]["code"] == "overloaded"
        _, body = await http_get(f"http://{host}/metrics")
        assert b'local_ai_sessions_refused_total{reason="overloaded"}' in body
        for work in works:
            runtime.admission.end(work)  # the other calls' answers are out
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.wait_for("session.created")


async def test_a_caller_refused_by_an_overloaded_server_hears_the_hold_prompt_then_the_failure_context(tmp_path):
    runtime, _ = loaded_runtime(others_on_the_way=5, refuse_sessions_after_ms=2000)
    async with serve(runtime) as host:
        async with running_rig(tmp_path, provider_url=f"ws://{host}/v1/realtime",
                               calls={"provider_reconnect_s": 1.0}) as rig:
            call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
            await call.wait_answered(5)
            await eventually(lambda: np.abs(np.frombuffer(call.heard_pcm(), "<i2")).max(initial=0) > 1000, 5,
                             "hold prompt heard, not silence")
            await eventually(lambda: any(r["path"].endswith(f"/{call.channel_id}/continue")
                                         for r in rig.emu.rest_log), 10, "caller sent on")
            cont = next(r for r in rig.emu.rest_log if r["path"].endswith("/continue"))
            assert cont["query"]["context"] == "ai-agent-unavailable"
