"""End to end with nothing faked but Asterisk: the emulator's caller asks a spoken question, the
engine carries it to the real local-ai-server (bundled Whisper, SmolLM2, Piper, in its own
process), and the spoken answer the caller hears is read back with Whisper."""
import math
import re
import shutil

import anyio
import numpy as np
import pytest
import soxr

from bench.local_ai_server import free_port, start_server
from engine_harness import running_rig
from local_ai_server.client import espeak
from local_ai_server.config import Settings as ServerSettings
from local_ai_server.models import BUNDLED_STT, resolve
from local_ai_server.models.stt import WhisperSTT

pytestmark = [pytest.mark.models, pytest.mark.anyio]
QUESTION = "What time does the store open tomorrow?"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    assert shutil.which("espeak-ng"), "espeak-ng makes the test speech (make system-deps)"
    port = free_port()
    proc = start_server(port, tmp_path_factory.mktemp("server") / "server.log", {})
    yield f"ws://127.0.0.1:{port}/v1/realtime"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def whisper():
    settings = ServerSettings().stt
    return WhisperSTT(resolve(settings.model_path, BUNDLED_STT), settings)


def loud_frames(pcm: bytes) -> np.ndarray:
    x = np.frombuffer(pcm[: len(pcm) // 320 * 320], "<i2").astype(np.float32).reshape(-1, 160)
    return np.sqrt((x * x).mean(axis=1)) > 300


async def heard_after(call, t0: float, quiet_s: float = 1.5, timeout: float = 30.0) -> bytes:
    """What the caller heard from t0 until the agent went quiet for `quiet_s` after talking."""
    deadline = anyio.current_time() + timeout
    while anyio.current_time() < deadline:
        pcm = call.heard_between(t0, math.inf)
        talked = np.nonzero(loud_frames(pcm))[0]
        if talked.size and len(pcm) // 320 - talked[-1] > quiet_s / 0.02:
            return pcm[: (talked[-1] + 1) * 320]
        await anyio.sleep(0.1)
    raise AssertionError("no complete spoken answer")


@pytest.mark.parametrize("mode", ["stream", "file"])
async def test_a_spoken_question_gets_a_spoken_answer_whisper_can_read(tmp_path, server_url, whisper, mode):
    question = espeak(QUESTION, rate=8000, speed=160)
    personas = {"default": {"greeting": "Hello, how can I help you?",
                            "instructions": "You are the phone agent of a small shop. Answer in one short sentence."}}
    async with running_rig(tmp_path, provider_url=server_url, personas=personas,
                           playback={"downstream_mode": mode}) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(10)
        greeting = await heard_after(call, call.t_answered)
        assert {"hello", "help"} & set(re.findall(r"[a-z]+", read(whisper, greeting)))
        t_asked = anyio.current_time()
        await call.say(question)
        answer = read(whisper, await heard_after(call, t_asked))
        assert len(re.findall(r"[a-z]+", answer)) >= 2, f"an answer in words, heard {answer!r}"
        await call.hangup()
    assert rig.media_files() == []


def read(whisper, pcm_8k: bytes) -> str:
    audio = np.frombuffer(pcm_8k, dtype="<i2")
    return whisper.transcribe(soxr.resample(audio, 8000, 16000).astype(np.int16)).lower()
