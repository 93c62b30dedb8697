"""The Realtime session under adverse conditions, over a real WebSocket with fake models: auth,
a busy neighbour, two sessions at once, failing models, oversized frames, and the prompt prefill
between turns."""

from __future__ import annotations

import time

import anyio
import pytest
from local_ai_fakes import FakeLLM, FakeSTT, FakeTTS, Probe, fake_models, http_get, make_runtime, serve, silence, vowel
from local_ai_server.client import RealtimeClient
from test_realtime_session import spoken_turn
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.anyio


async def test_token_auth():
    runtime = make_runtime(auth_token="s3cret")
    async with serve(runtime) as host:
        url = f"ws://{host}/v1/realtime"
        for token in (None, "wrong"):
            with pytest.raises(InvalidStatus) as info:
                async with RealtimeClient.connect(url, token=token):
                    pass
            assert info.value.response.status_code == 401
        async with RealtimeClient.connect(url, token="s3cret") as client:
            assert (await client.wait_for("session.created"))["session"]["id"].startswith("sess_")
        status, _ = await http_get(f"http://{host}/health")  # health stays open
        assert status == 200


async def test_busy_session_does_not_freeze_another_and_cpu_jobs_are_bounded():
    probe = Probe()
    models = fake_models(stt=FakeSTT(delay=0.4, probe=probe), llm=FakeLLM(token_delay=0.05, probe=probe),
                         tts=FakeTTS(delay=0.1, probe=probe))
    async with serve(make_runtime(models, concurrency={"cpu_jobs": 1})) as host:
        url = f"ws://{host}/v1/realtime"
        async with RealtimeClient.connect(url) as busy, RealtimeClient.connect(url) as other:
            await busy.update_session(rate=8000)
            await other.update_session(rate=8000)
            mark = await spoken_turn(busy)
            await busy.wait_for("input_audio_buffer.speech_stopped", after=mark)
            # While the busy session's STT/LLM/TTS run, the other session is served at once.
            for _ in range(5):
                started = time.monotonic()
                await other.update_session(rate=8000)
                assert time.monotonic() - started < 0.1
                await anyio.sleep(0.1)
            await busy.wait_for("response.done", after=mark, timeout=20)
    assert probe.max_running == 1


async def test_two_sessions_at_once_are_both_answered():
    async with serve(make_runtime(fake_models(stt=FakeSTT(delay=0.1), tts=FakeTTS(delay=0.02)))) as host:
        url = f"ws://{host}/v1/realtime"
        async with RealtimeClient.connect(url) as a, RealtimeClient.connect(url) as b:
            await a.update_session(rate=8000)
            await b.update_session(rate=16000)

            async def turn(client, rate):
                mark = await spoken_turn(client, vowel(1.0, rate) + silence(0.8, rate), rate)
                return await client.wait_for("response.done", after=mark, timeout=20)

            results = {}
            async with anyio.create_task_group() as tg:
                for name, client, rate in (("a", a, 8000), ("b", b, 16000)):
                    async def run(name=name, client=client, rate=rate):
                        results[name] = await turn(client, rate)
                    tg.start_soon(run)
    assert results["a"]["response"]["status"] == results["b"]["response"]["status"] == "completed"
    assert results["a"]["response"]["id"] != results["b"]["response"]["id"]


async def test_metrics_endpoint_counts_sessions():
    async with serve(make_runtime()) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.wait_for("session.created")
        status, body = await http_get(f"http://{host}/metrics")
    assert status == 200 and b"local_ai_sessions_total" in body


class BrokenTTS(FakeTTS):
    def synthesize(self, text):
        raise RuntimeError("voice file is corrupt")


class BrokenSTT(FakeSTT):
    def transcribe(self, audio_16k):
        raise RuntimeError("out of memory")


async def test_a_failing_model_fails_the_response_not_the_call():
    async with serve(make_runtime(fake_models(tts=BrokenTTS()))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000)
            mark = await spoken_turn(client)
            done = await client.wait_for("response.done", after=mark)
            error = client.find("error", mark)
            assert done["response"]["status"] == "failed"
            assert error["error"]["code"] == "response_failed" and "corrupt" in error["error"]["message"]
            # The call goes on.
            assert (await client.update_session(rate=16000))["session"]["audio"]["input"]["format"]["rate"] == 16000


async def test_a_failing_transcription_is_reported_and_the_call_goes_on():
    async with serve(make_runtime(fake_models(stt=BrokenSTT()))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000)
            mark = await spoken_turn(client)
            error = await client.wait_for("error", after=mark)
            assert error["error"]["code"] == "turn_failed"
            mark = len(client.events)
            await client.send({"type": "response.create", "response": {"instructions": "Say sorry."}})
            assert (await client.wait_for("response.done", after=mark))["response"]["status"] == "completed"


async def test_a_frame_far_over_the_limit_closes_the_socket():
    async with serve(make_runtime(server={"max_message_bytes": 4096})) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.wait_for("session.created")
            await client.send_raw("x" * 20000)  # over 4x the limit: refused by the WebSocket layer
            with pytest.raises(ConnectionError):
                await client.wait_for("anything", after=len(client.events), timeout=5)
            assert client.ws.close_code == 1009  # "message too big"


async def test_next_prompt_is_prefilled_between_turns():
    llm = FakeLLM(reply="Nine o'clock.")
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000, instructions="You are Acme's agent.")
            mark = await spoken_turn(client)
            await client.wait_for("x_local.turn.metrics", after=mark)
            await anyio.sleep(0.2)
    # Once for the new instructions, once after the answer: the prompt the next turn extends.
    assert llm.prefills[0][0]["content"].startswith("You are Acme's agent.")
    assert [m["role"] for m in llm.prefills[-1]] == ["system", "user", "assistant"]
    assert llm.prefills[-1][-1]["content"] == "Nine o'clock."
    assert llm.prompts[-1][: len(llm.prefills[0])] == llm.prefills[0]  # the turn's prompt extends it
