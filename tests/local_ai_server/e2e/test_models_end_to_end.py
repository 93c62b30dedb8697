"""End to end with the real bundled models (no fakes): espeak-ng speech at 8 kHz telephone quality
goes in over a real WebSocket; transcripts and spoken answers come out; the answers are read back
with the same Whisper model."""

from __future__ import annotations

import re
import shutil

import anyio
import numpy as np
import pytest
import soxr
from local_ai_fakes import serve
from local_ai_server.client import RealtimeClient, audio_of, espeak
from local_ai_server.config import Settings
from local_ai_server.models import load_models
from local_ai_server.runtime import Runtime

pytestmark = [pytest.mark.models, pytest.mark.anyio]

QUESTION = "What time does the store open tomorrow?"
INSTRUCTIONS = "You are the phone agent of a small shop. Answer in one short sentence."


@pytest.fixture(scope="module")
def models():
    assert shutil.which("espeak-ng"), "espeak-ng makes the test speech: apt-get install espeak-ng (make system-deps)"
    return load_models(Settings())


@pytest.fixture
def runtime(models):
    return Runtime(Settings(), models)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def read_back(models, pcm_8k: bytes) -> str:
    """What Whisper hears in the agent's 8 kHz answer."""
    audio = np.frombuffer(pcm_8k, dtype="<i2")
    return models.stt.transcribe(soxr.resample(audio, 8000, 16000).astype(np.int16))


async def ask(client: RealtimeClient, text: str, voice: str = "en-us") -> int:
    mark = len(client.events)
    speech = espeak(text, rate=8000, voice=voice, speed=160)
    # A caller is quiet for a moment before speaking; 1 s of silence after the question ends the turn.
    await client.send_audio(bytes(8000) + speech + bytes(8000 * 2), realtime=False)
    return mark


async def test_spoken_question_gets_a_transcript_and_a_spoken_answer(runtime, models):
    async with serve(runtime) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=8000, instructions=INSTRUCTIONS)
        mark = await ask(client, QUESTION)
        transcript = await client.wait_for("conversation.item.input_audio_transcription.completed", after=mark)
        done = await client.wait_for("response.done", after=mark, timeout=60)
        metrics = await client.wait_for("x_local.turn.metrics", after=mark)
    assert {"time", "store", "open", "tomorrow"} <= words(transcript["transcript"])
    assert done["response"]["status"] == "completed"
    answer_text = "".join(e["delta"] for e in client.all("response.output_audio_transcript.delta", mark))
    answer_audio = audio_of(client.events[mark:], done["response"]["id"])
    assert len(answer_audio) / 2 / 8000 > 0.5, "the answer should be spoken"
    heard = words(read_back(models, answer_audio))
    said = words(answer_text)
    assert len(heard & said) >= max(2, len(said) // 2), (answer_text, heard)
    assert metrics["first_audio_ms"] is not None


async def test_greeting_is_spoken_as_written(runtime, models):
    greeting = "Hello, thanks for calling the corner shop. How can I help you today?"
    async with serve(runtime) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=16000)
        await client.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": greeting}]}})
        await client.send({"type": "response.create"})
        done = await client.wait_for("response.done", timeout=60)
    audio = np.frombuffer(audio_of(client.events, done["response"]["id"]), dtype="<i2")
    heard = words(models.stt.transcribe(audio.astype(np.int16)))  # already 16 kHz
    assert {"thanks", "calling", "help", "today"} <= heard


async def test_cancel_mid_answer_stops_the_audio(runtime):
    async with serve(runtime) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=8000)
        await client.send({"type": "response.create", "response": {
            "instructions": "Count slowly from one to thirty, one number per sentence.", "max_output_tokens": 120}})
        first = await client.wait_for("response.output_audio.delta", timeout=60)
        await client.send({"type": "response.cancel"})
        done = await client.wait_for("response.done", timeout=10)
        await anyio.sleep(1.0)
    assert done["response"]["status"] == "cancelled"
    response_id = first["response_id"]
    after = client.events[client.events.index(done):]
    assert not [e for e in after if e["type"] == "response.output_audio.delta" and e["response_id"] == response_id]
    # Cut short: far less audio than the whole count would take.
    assert len(audio_of(client.events, response_id)) / 2 / 8000 < 8


async def test_caller_speech_interrupts_a_real_answer(runtime):
    async with serve(runtime) as host, RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
        await client.update_session(rate=8000)
        await client.send({"type": "response.create", "response": {
            "instructions": "Tell a long story about a dragon.", "max_output_tokens": 120}})
        await client.wait_for("response.output_audio.delta", timeout=60)
        mark = await ask(client, "Stop please.")
        await client.wait_for("input_audio_buffer.speech_started", after=mark)
        done = await client.wait_for("response.done", timeout=10)
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "turn_detected"


async def test_two_sessions_at_once_are_both_answered(runtime):
    # Session b once asked "Can you tell me the weather today?" in espeak's British `en` voice. That
    # failed on some machines as "Can you tell me no": not an end-of-turn cut (the turn holds the
    # whole phrase: 2,240 ms = prefix, speech and 200 ms of its silence; see
    # unit/test_vad_endpointer.py::test_natural_phrases_are_one_whole_turn), but Whisper tiny.en
    # mishearing that voice: with faint noise or a 2.5 ms shift the same audio transcribes either way
    # (7 of 12 right), so the CPU's int8 arithmetic decided. This phrase and voice transcribe right
    # in 18 of 18 such variations.
    questions = {"a": ("What time does the store open tomorrow?", "en-us", {"store", "open"}),
                 "b": ("Where is the nearest train station?", "en", {"train", "station"})}
    results: dict[str, tuple[str, dict, bytes]] = {}

    async def call(name: str, url: str) -> None:
        text, voice, _ = questions[name]
        async with RealtimeClient.connect(url) as client:
            await client.update_session(rate=8000, instructions=INSTRUCTIONS)
            mark = await ask(client, text, voice)
            transcript = await client.wait_for("conversation.item.input_audio_transcription.completed", after=mark)
            done = await client.wait_for("response.done", after=mark, timeout=60)
            results[name] = (transcript["transcript"], done, audio_of(client.events[mark:], done["response"]["id"]))

    async with serve(runtime) as host:
        async with anyio.create_task_group() as tg:
            for name in questions:
                tg.start_soon(call, name, f"ws://{host}/v1/realtime")
    for name, (transcript, done, audio) in results.items():
        assert questions[name][2] <= words(transcript)
        assert done["response"]["status"] == "completed"
        assert len(audio) / 2 / 8000 > 0.5


@pytest.fixture(scope="module")
def natural_voice():
    """The bundled Piper voice without its random noise: the same audio on every run."""
    from local_ai_server.models.bundled import BUNDLED_TTS
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(BUNDLED_TTS.path())
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, volume=0.8)

    def speak_on_the_phone(text: str) -> np.ndarray:
        speech = np.concatenate([c.audio_int16_array for c in voice.synthesize(text, syn_config=config)])
        return soxr.resample(soxr.resample(speech, voice.config.sample_rate, 8000), 8000, 16000).astype(np.int16)

    return speak_on_the_phone


@pytest.mark.parametrize("question", ["What is the capital of France?", "How do I reset my password?",
                                      "Where is the nearest train station?", "Can you tell me the weather today?"])
def test_a_short_clear_question_is_transcribed_once(models, natural_voice, question):
    # A natural voice through the telephone band: Whisper, given a short turn padded only to a 6 s
    # window, wrote each of these questions out two or three times over ("What is the capital of
    # France? What is the capital of France? What"); espeak-ng's voice hid it.
    transcript = models.stt.transcribe(natural_voice(question))
    assert len(transcript.split()) <= len(question.split()) + 1, transcript  # once, not again and again
    assert len(words(transcript) & words(question)) >= len(words(question)) - 1, transcript  # a word may be misheard
