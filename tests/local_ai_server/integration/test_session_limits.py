"""What one client may ask of the server is bounded, and a bad input costs the client an `error`
event, never the session (issue 13, local-ai-server items 1-4 and 6). Fake models, real sockets."""

from __future__ import annotations

import json
import threading

import pytest
from local_ai_fakes import FakeLLM, FakeSTT, fake_models, make_runtime, serve, silence, vowel
from local_ai_server.client import RealtimeClient

pytestmark = pytest.mark.anyio

TURN = vowel(1.2) + silence(0.8)


def item(role: str, text: str) -> dict:
    return {"type": "conversation.item.create",
            "item": {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}}


async def still_answers(client: RealtimeClient) -> None:
    mark = len(client.events)
    await client.send({"type": "session.update", "session": {"instructions": "Still there?"}})
    await client.wait_for("session.updated", after=mark)


async def test_a_json_integer_over_4300_digits_is_an_error_not_the_end_of_the_session():
    async with serve(make_runtime()) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.wait_for("session.created")
        await client.send_raw('{"type": "session.update", "session": {}, "n": ' + "9" * 5000 + "}")
        error = await client.wait_for("error")
        assert error["error"]["code"] == "invalid_json"
        await still_answers(client)


async def test_item_text_with_a_lone_surrogate_is_refused_and_later_answers_still_work():
    llm = FakeLLM()
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.wait_for("session.created")
            await client.send_raw(json.dumps(item("user", "hello \ud800 there")))  # json.dumps escapes it
            error = await client.wait_for("error")
            assert error["error"]["code"] == "invalid_item" and "Unicode" in error["error"]["message"]
            assert client.find("conversation.item.added") is None
            mark = len(client.events)
            await client.send(item("user", "What time is it?"))
            await client.send({"type": "response.create"})
            done = await client.wait_for("response.done", after=mark)
    assert done["response"]["status"] == "completed"


async def test_an_item_over_the_size_limit_is_refused():
    async with serve(make_runtime(limits={"max_item_chars": 1000})) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.wait_for("session.created")
            await client.send(item("system", "x" * 1001))
            error = await client.wait_for("error")
            assert error["error"]["code"] == "item_too_large"
            assert client.find("conversation.item.added") is None
            await client.send(item("system", "x" * 1000))
            await client.wait_for("conversation.item.added")


async def test_many_large_system_items_keep_the_prompt_within_its_bound():
    llm = FakeLLM()
    runtime = make_runtime(fake_models(llm=llm), llm={"max_prompt_chars": 3000, "prefill": False})
    async with serve(runtime) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.wait_for("session.created")
        for n in range(40):
            await client.send(item("system", f"rule {n}: " + "be kind " * 400))
        await client.send(item("user", "Hello?"))
        await client.send({"type": "response.create"})
        await client.wait_for("response.done", timeout=30)
    prompt = llm.prompts[-1]
    assert sum(len(m["content"]) for m in prompt) <= 3000
    assert prompt[0]["content"].startswith("You are")  # the instructions come first and are kept
    assert prompt[-1] == {"role": "user", "content": "Hello?"}


async def test_audio_much_faster_than_real_time_is_refused_with_an_error():
    stt = FakeSTT()
    runtime = make_runtime(fake_models(stt=stt), limits={"audio_burst_ms": 2000})
    async with serve(runtime) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=8000)
        await client.send_audio(TURN * 15, realtime=False)  # 30 s of speech sent at once
        error = await client.wait_for("error")
        assert error["error"]["code"] == "input_audio_rate_exceeded"
        await still_answers(client)
    refusals = [e for e in client.all("error") if e["error"]["code"] == "input_audio_rate_exceeded"]
    assert len(refusals) < 15  # one report per second of flood, not one per refused append
    assert len(client.all("input_audio_buffer.speech_stopped")) < 15


async def test_turns_beyond_the_queue_bound_are_refused():
    gate = threading.Event()
    stt = FakeSTT(gate=gate)  # transcriptions wait: the turns pile up
    # Without the end-of-turn holds: a pause would wait for its (gated) speculative transcript.
    runtime = make_runtime(fake_models(stt=stt), limits={"max_queued_turns": 2}, concurrency={"cpu_jobs": 1},
                           vad={"unfinished_hold_ms": 0, "unclear_hold_ms": 0, "finished_silence_ms": 0})
    try:
        async with serve(runtime) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000)
            await client.send_audio(TURN * 4, realtime=False)
            error = await client.wait_for("error")
            assert error["error"]["code"] == "turn_queue_full"
            assert len(client.all("input_audio_buffer.committed")) == 2
            gate.set()
            await client.wait_for("conversation.item.input_audio_transcription.completed")
    finally:
        gate.set()


async def test_manual_input_buffer_is_bounded():
    stt = FakeSTT()
    runtime = make_runtime(fake_models(stt=stt), limits={"max_input_buffer_ms": 2000})
    async with serve(runtime) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=8000, turn_detection=None)
        await client.send_audio(vowel(3.0), realtime=False)
        error = await client.wait_for("error")
        assert error["error"]["code"] == "input_audio_buffer_full"
        await still_answers(client)  # every append above was answered before this
        assert len(client.all("error")) == 1  # one error, not one per refused append
        mark = len(client.events)
        await client.send({"type": "input_audio_buffer.commit"})
        await client.wait_for("conversation.item.input_audio_transcription.completed", after=mark)
    assert stt.calls and max(stt.calls) <= 2 * 16000  # at most 2 s reached the STT


async def test_the_llm_stops_when_the_caller_goes_away():
    llm = FakeLLM(reply="word " * 2000, token_delay=0.005)  # ten seconds of generation if nobody stops it
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.wait_for("session.created")
            await client.send({"type": "response.create", "response": {"max_output_tokens": 4096}})
            await client.wait_for("response.output_audio.delta")
        # The client left; leaving `serve` waits for the session (and its LLM job) to end.
    assert llm.tokens_out < 1000, llm.tokens_out  # stopped soon after the caller left


async def test_a_client_that_stops_reading_loses_its_session():
    """The session ends by itself once a send has been blocked for server.send_timeout_s."""
    import anyio
    from local_ai_server.realtime.session import Session

    runtime = make_runtime(server={"send_timeout_s": 0.2})
    sent: list[str] = []

    async def incoming():
        yield json.dumps({"type": "response.create", "response": {"instructions": "Talk."}})
        await anyio.sleep_forever()  # the client never sends again and never leaves

    async def send_text(text: str) -> None:
        if len(sent) >= 3:
            await anyio.sleep_forever()  # and stops reading after three events
        sent.append(text)

    with anyio.fail_after(10):  # a guard only: without the timeout the session would never end
        await Session(runtime).run(incoming(), send_text)
    assert len(sent) == 3
