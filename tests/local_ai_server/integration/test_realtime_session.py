"""The Realtime session over a real WebSocket, with fake models (fast and deterministic)."""

from __future__ import annotations

import base64
import json

import anyio
import pytest
from local_ai_fakes import FakeLLM, FakeSTT, FakeTTS, fake_models, http_get, make_runtime, serve, silence, vowel
from local_ai_server.client import RealtimeClient, audio_of
from voice_common.pcm import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.anyio

G711 = {"pcmu": (ulaw_encode, ulaw_decode), "pcma": (alaw_encode, alaw_decode)}
QUESTION = vowel(1.2) + silence(0.8)  # one caller turn: speech, then end-of-turn silence


async def spoken_turn(client: RealtimeClient, audio: bytes = QUESTION, rate: int = 8000) -> int:
    mark = len(client.events)
    await client.send_audio(audio, rate=rate, realtime=False)
    return mark


async def spoken_greeting(client: RealtimeClient, greeting: str) -> int:
    """The engine's greeting: an assistant item with the words, then response.create."""
    mark = len(client.events)
    await client.send({"type": "conversation.item.create", "item": {
        "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": greeting}]}})
    await client.send({"type": "response.create"})
    return mark


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


async def test_health_reports_loaded_models():
    async with serve(make_runtime()) as host:
        status, body = await http_get(f"http://{host}/health")
    data = json.loads(body)
    assert status == 200
    assert data["status"] == "ok"
    assert set(data["models"]) == {"stt", "llm", "tts"}
    assert all(m["loaded"] and m["path"] for m in data["models"].values())


async def test_health_is_503_and_sessions_refused_while_models_load():
    runtime = make_runtime(fake_models())
    runtime.models.status["llm"].loaded = False
    runtime.load = lambda: anyio.sleep_forever()  # never finishes loading
    async with serve(runtime) as host:
        status, body = await http_get(f"http://{host}/health")
        assert status == 503 and json.loads(body)["models"]["llm"]["loaded"] is False
        with pytest.raises(InvalidStatus) as info:
            async with RealtimeClient.connect(f"ws://{host}/v1/realtime"):
                pass
        assert info.value.response.status_code == 503


async def test_session_created_then_update_changes_formats_and_vad():
    async with serve(make_runtime()) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        created = await client.wait_for("session.created")
        assert created["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        updated = await client.update_session(rate=8000, output_rate=16000, silence_duration_ms=700,
                                              instructions="Be terse.", voice="joe")
        session = updated["session"]
        assert session["instructions"] == "Be terse."
        assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 8000}
        assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 16000}
        assert session["audio"]["output"]["voice"] == "joe"
        assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700


async def test_spoken_turn_is_transcribed_and_answered_in_speech():
    llm, tts = FakeLLM(), FakeTTS()
    async with serve(make_runtime(fake_models(llm=llm, tts=tts))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000, instructions="You are the store's phone agent.")
            mark = await spoken_turn(client)
            done = await client.wait_for("response.done", after=mark)
            metrics = await client.wait_for("x_local.turn.metrics", after=mark)
    events = client.events[mark:]
    order = types(events)
    assert order.index("input_audio_buffer.speech_started") < order.index("input_audio_buffer.speech_stopped")
    assert order.index("input_audio_buffer.speech_stopped") < order.index("input_audio_buffer.committed")
    transcript = client.find("conversation.item.input_audio_transcription.completed", mark)
    assert transcript["transcript"] == "What time does the store open tomorrow?"
    assert order.index("conversation.item.input_audio_transcription.completed") < order.index("response.created")
    assert done["response"]["status"] == "completed"
    # The system prompt carries the session instructions; the question is the last user message.
    assert "store's phone agent" in llm.prompts[0][0]["content"]
    assert llm.prompts[0][-1] == {"role": "user", "content": "What time does the store open tomorrow?"}
    # Speech: the first piece is cut at the first clause, so the first audio comes early.
    deltas = [e["delta"] for e in client.all("response.output_audio_transcript.delta", mark)]
    assert deltas[0] == "Sure thing,"
    assert "".join(deltas) == "Sure thing, the store opens at nine. We close at five. See you then!"
    # Output audio: 8 kHz s16le, as long as the fake voice spoke, in deltas of at most 100 ms.
    audio = audio_of(events)
    expected = sum(tts.duration_s(t) for t in tts.texts)
    assert abs(len(audio) / 2 / 8000 - expected) < 0.02
    assert max(len(base64.b64decode(e["delta"])) for e in client.all("response.output_audio.delta", mark)) <= 1600
    for key in ("speech_stopped_ms", "transcript_ms", "first_token_ms", "first_audio_ms"):
        assert isinstance(metrics[key], int) and metrics[key] >= 0


async def test_each_piece_has_one_transcript_delta_right_before_its_audio():
    async with serve(make_runtime()) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=8000)
        mark = await spoken_turn(client)
        await client.wait_for("response.done", after=mark)
    stream = [e for e in client.events[mark:] if e["type"].startswith("response.output_audio")]
    pieces = []
    for event in stream:
        if event["type"] == "response.output_audio_transcript.delta":
            pieces.append([event["delta"], 0])
        elif event["type"] == "response.output_audio.delta":
            assert pieces, "audio before its transcript delta"
            pieces[-1][1] += 1
    assert [p[0].strip() for p in pieces] == [
        "Sure thing,", "the store opens at nine.", "We close at five.", "See you then!"]
    assert all(count > 0 for _, count in pieces)


@pytest.mark.parametrize(
    "encoding,rate", [("pcm", 8000), ("pcm", 16000), ("pcm", 24000), ("pcmu", 8000), ("pcma", 8000)]
)
async def test_input_and_output_formats(encoding, rate):
    tts = FakeTTS()
    async with serve(make_runtime(fake_models(tts=tts))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=rate, encoding=encoding)
            speech = vowel(1.2, rate) + silence(0.8, rate)
            if encoding in G711:
                import numpy as np

                speech = G711[encoding][0](np.frombuffer(speech, dtype="<i2"))
                mark = len(client.events)
                await client.send_audio(speech, rate=rate, bytes_per_sample=1, realtime=False)
            else:
                mark = await spoken_turn(client, speech, rate)
            await client.wait_for("response.done", after=mark)
    audio = audio_of(client.events[mark:])
    seconds = len(audio) / (1 if encoding in G711 else 2) / rate
    assert abs(seconds - sum(tts.duration_s(t) for t in tts.texts)) < 0.02
    if encoding in G711:
        decoded = G711[encoding][1](audio)
        assert abs(int(decoded.astype(int).max()) - 8000 * 0.8) < 8000 * 0.3  # the tone, not noise


async def test_greeting_is_spoken_verbatim_without_the_llm():
    llm = FakeLLM()
    greeting = "Hello, thanks for calling Acme. How can I help you today?"
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000)
            mark = await spoken_greeting(client, greeting)
            done = await client.wait_for("response.done", after=mark)
            metrics = await client.wait_for("x_local.response.metrics", after=mark)
    assert llm.prompts == []
    assert client.find("conversation.item.added", mark)["item"]["role"] == "assistant"
    spoken = "".join(e["delta"] for e in client.all("response.output_audio_transcript.delta", mark))
    assert spoken == greeting
    assert done["response"]["status"] == "completed"
    assert done["response"]["output"][0]["content"][0]["transcript"] == greeting
    assert metrics["first_audio_ms"] is not None and audio_of(client.events[mark:])


async def test_response_create_with_instructions_asks_the_llm():
    llm = FakeLLM(reply="Good morning, this is Acme.")
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000)
            mark = len(client.events)
            await client.send({"type": "response.create",
                               "response": {"instructions": "Greet the caller warmly in one sentence."}})
            await client.wait_for("response.done", after=mark)
    assert llm.prompts[0][0]["role"] == "system"
    assert "Greet the caller warmly" in llm.prompts[0][0]["content"]
    spoken = "".join(e["delta"] for e in client.all("response.output_audio_transcript.delta", mark))
    assert spoken == "Good morning, this is Acme."


async def test_text_item_from_the_user_gets_an_answer_and_history_is_kept():
    llm = FakeLLM(reply="Nine o'clock.")
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000)
            for question in ("When do you open?", "And on Sunday?"):
                mark = len(client.events)
                await client.send({"type": "conversation.item.create", "item": {
                    "type": "message", "role": "user", "content": [{"type": "input_text", "text": question}]}})
                await client.send({"type": "response.create"})
                await client.wait_for("response.done", after=mark)
    second = llm.prompts[1]
    assert [m["role"] for m in second[1:]] == ["user", "assistant", "user"]
    assert second[2]["content"] == "Nine o'clock."
    assert second[3]["content"] == "And on Sunday?"


async def _start_slow_answer(client: RealtimeClient) -> tuple[int, dict]:
    await client.update_session(rate=8000)
    mark = len(client.events)
    await client.send({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Tell me a long story."}]}})
    await client.send({"type": "response.create"})
    await client.wait_for("response.output_audio.delta", after=mark)
    return mark, client.find("response.created", mark)


def _slow_models():
    """An answer of ten short sentences that takes a while to think and speak."""
    reply = "One. Two. Three. Four. Five. Six. Seven. Eight. Nine. Ten."
    return fake_models(llm=FakeLLM(reply=reply, token_delay=0.05), tts=FakeTTS(delay=0.05))


async def _assert_cancelled_and_silent(client: RealtimeClient, mark: int, response_id: str, reason: str) -> None:
    done = await client.wait_for("response.done", after=mark)
    assert done["response"]["id"] == response_id
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == reason
    cut = client.events.index(done)
    await anyio.sleep(0.5)  # the LLM and TTS would have produced more by now
    late = [e for e in client.events[cut:] if e["type"].startswith("response.output_audio")
            and e.get("response_id") == response_id]
    assert late == []


async def test_response_cancel_stops_audio_at_once():
    models = _slow_models()
    async with serve(make_runtime(models)) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            mark, created = await _start_slow_answer(client)
            response_id = created["response"]["id"]
            await client.send({"type": "response.cancel"})
            await _assert_cancelled_and_silent(client, mark, response_id, "client_cancelled")
            tokens_then = models.llm.tokens_out
            await anyio.sleep(0.3)
            assert models.llm.tokens_out == tokens_then  # the LLM stopped too
            # The session goes on: a new response can start.
            mark2 = len(client.events)
            await client.send({"type": "response.create"})
            assert (await client.wait_for("response.done", after=mark2))["response"]["status"] == "completed"


async def test_input_audio_buffer_clear_cancels_the_response():
    async with serve(make_runtime(_slow_models())) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            mark, created = await _start_slow_answer(client)
            await client.send({"type": "input_audio_buffer.clear"})
            await client.wait_for("input_audio_buffer.cleared", after=mark)
            await _assert_cancelled_and_silent(client, mark, created["response"]["id"], "client_cleared")


async def test_caller_speech_interrupts_the_answer():
    async with serve(make_runtime(_slow_models())) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            mark, created = await _start_slow_answer(client)
            await client.send_audio(vowel(0.3), realtime=False)
            started = await client.wait_for("input_audio_buffer.speech_started", after=mark)
            await _assert_cancelled_and_silent(client, mark, created["response"]["id"], "turn_detected")
            assert client.events.index(started) < client.events.index(client.find("response.done", mark))


async def test_interrupt_response_false_lets_the_answer_finish():
    async with serve(make_runtime(_slow_models())) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            mark, _ = await _start_slow_answer(client)
            await client.send({"type": "session.update", "session": {"audio": {"input": {"turn_detection": {
                "type": "server_vad", "interrupt_response": False, "create_response": False}}}}})
            await client.send_audio(vowel(0.3) + silence(0.8), realtime=False)
            done = await client.wait_for("response.done", after=mark, timeout=10)
            assert done["response"]["status"] == "completed"


async def test_speculative_work_is_held_back_until_the_turn_ends():
    """A pause shorter than the end-of-turn silence is not a turn: one transcript, one answer,
    covering both parts, and nothing is sent before speech_stopped."""
    stt = FakeSTT()
    async with serve(make_runtime(fake_models(stt=stt), vad={"speculative_after_ms": 100})) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000, silence_duration_ms=500)
            mark = len(client.events)
            await client.send_audio(vowel(0.6) + silence(0.3), realtime=True)  # pause 300 ms: speculation starts
            await client.send_audio(vowel(0.6) + silence(0.7), realtime=True)
            await client.wait_for("response.done", after=mark)
    order = types(client.events[mark:])
    assert order.count("input_audio_buffer.speech_started") == 1
    assert order.count("conversation.item.input_audio_transcription.completed") == 1
    assert order.count("response.created") == 1
    stopped = order.index("input_audio_buffer.speech_stopped")
    assert order.index("conversation.item.input_audio_transcription.completed") > stopped
    assert max(stt.calls) >= 16000 * 1.4  # the final transcription heard both parts


async def test_manual_commit_without_turn_detection():
    stt = FakeSTT()
    async with serve(make_runtime(fake_models(stt=stt))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000, turn_detection=None)
            mark = len(client.events)
            await client.send({"type": "input_audio_buffer.commit"})
            error = await client.wait_for("error", after=mark)
            assert error["error"]["code"] == "input_audio_buffer_commit_empty"
            await client.send_audio(vowel(1.0), realtime=False)
            await client.send({"type": "input_audio_buffer.commit"})
            transcript = await client.wait_for("conversation.item.input_audio_transcription.completed", after=mark)
            assert transcript["transcript"] == stt.transcript
            assert client.find("input_audio_buffer.speech_started", mark) is None
            await client.send({"type": "response.create"})
            assert (await client.wait_for("response.done", after=mark))["response"]["status"] == "completed"


@pytest.mark.parametrize(
    "message,code",
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_event"),
        (json.dumps({"type": "session.fly"}), "unknown_event"),
        (json.dumps({"audio": "AAAA"}), "invalid_event"),
        (json.dumps({"type": "input_audio_buffer.append", "audio": "%%%not-base64%%%"}), "invalid_audio"),
        (json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\x00\x01\x02").decode()}),
         "invalid_audio"),
        (json.dumps({"type": "input_audio_buffer.append"}), "invalid_audio"),
        (json.dumps({"type": "session.update", "session": {"audio": {"input": {"format": {
            "type": "audio/pcm", "rate": 44100}}}}}), "invalid_audio_format"),
        (json.dumps({"type": "session.update", "session": {"audio": {"output": {"format": {
            "type": "audio/opus"}}}}}), "invalid_audio_format"),
        (json.dumps({"type": "session.update", "session": {"audio": {"input": {"turn_detection": {
            "type": "semantic_vad"}}}}}), "invalid_session"),
        (json.dumps({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                                   "content": []}}), "invalid_item"),
        (json.dumps({"type": "response.cancel"}), "response_cancel_not_active"),
        (json.dumps({"type": "input_audio_buffer.append",
                     "audio": base64.b64encode(bytes(1_200_000)).decode()}), "message_too_large"),
    ],
)
async def test_bad_input_gets_an_error_event_and_the_session_goes_on(message, code):
    async with serve(make_runtime()) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.wait_for("session.created")
        mark = len(client.events)
        await client.send_raw(message)
        error = await client.wait_for("error", after=mark)
        assert error["error"]["code"] == code
        # Still alive and answering.
        updated = await client.update_session(rate=16000)
        assert updated["session"]["audio"]["input"]["format"]["rate"] == 16000


async def test_error_event_echoes_the_client_event_id():
    async with serve(make_runtime()) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.send({"type": "nope", "event_id": "evt_42"})
        error = await client.wait_for("error")
        assert error["error"]["event_id"] == "evt_42"


async def test_binary_messages_are_rejected_with_an_error():
    async with serve(make_runtime()) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.send_raw(b"\x00\x01")
        assert (await client.wait_for("error"))["error"]["code"] == "invalid_message"


async def test_pcm_append_accepts_any_whole_number_of_samples():
    async with serve(make_runtime()) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=8000)
        mark = len(client.events)
        for size in (2, 98, 320, 4000):
            await client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(size)).decode()})
        await client.update_session(rate=8000)
        assert client.find("error", mark) is None


async def test_second_response_create_while_one_runs_is_an_error():
    async with serve(make_runtime(_slow_models())) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            mark, _ = await _start_slow_answer(client)
            await client.send({"type": "response.create"})
            error = await client.wait_for("error", after=mark)
            assert error["error"]["code"] == "conversation_already_has_active_response"


class LeadInTTS(FakeTTS):
    """A voice that, like Piper, starts every piece with 60 ms of near-silence."""

    def synthesize(self, text):
        import numpy as np

        lead = np.zeros(int(self.sample_rate * 0.06), dtype=np.int16)
        return np.concatenate([lead, super().synthesize(text)])


async def test_answer_starts_with_its_first_sound_not_the_voices_lead_in():
    import numpy as np

    greeting = "Hello, thanks for calling Acme. How can I help you today?"
    async with serve(make_runtime(fake_models(tts=LeadInTTS()))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await client.update_session(rate=8000)
            mark = await spoken_greeting(client, greeting)
            await client.wait_for("response.done", after=mark)
    pieces: list[bytes] = []
    for event in client.events[mark:]:
        if event["type"] == "response.output_audio_transcript.delta":
            pieces.append(b"")
        elif event["type"] == "response.output_audio.delta":
            pieces[-1] += base64.b64decode(event["delta"])
    assert len(pieces) >= 2

    def lead_ms(audio: bytes) -> float:
        samples = np.frombuffer(audio, dtype="<i2")
        return int(np.flatnonzero(np.abs(samples) >= 64)[0]) / 8000 * 1000

    assert lead_ms(pieces[0]) <= 11  # the caller waits for this one: 10 ms of lead-in kept
    assert 55 <= lead_ms(pieces[1]) <= 65  # later pieces keep the voice's pause between sentences
