"""The OpenAI-compatible remote LLM backend against a strict fake streaming endpoint: what a caller
hears comes from the remote model, a broken or slow endpoint fails that answer only, a hang-up
stops the remote generation, and the key stays out of YAML files and logs."""

from __future__ import annotations

import anyio
import pytest
from fakes.chat_completions import FakeChatCompletions
from local_ai_server.config import LlmSettings, Settings, load_settings
from local_ai_server.models import ModelSet
from local_ai_server.models.llm_remote import RemoteLLM, RemoteLLMError, parse_sse_line
from local_ai_server.runtime import Runtime
from pydantic import ValidationError

pytestmark = pytest.mark.anyio
MESSAGES = [{"role": "system", "content": "You are Sam of Rosa's Bikes."},
            {"role": "user", "content": "When do you open?"}]


def remote(fake: FakeChatCompletions, **changes) -> LlmSettings:
    return LlmSettings(backend="openai_compatible", base_url=fake.base_url, model=fake.model, **changes)


async def answer(llm: RemoteLLM, max_tokens: int = 40) -> str:
    return "".join([piece async for piece in llm.astream(MESSAGES, max_tokens=max_tokens)])


async def test_streams_the_answer_and_sends_only_documented_fields():
    fake = FakeChatCompletions(key="sk-test")
    async with fake.running():
        llm = RemoteLLM(remote(fake, temperature=0.2), api_key="sk-test")
        assert await answer(llm, max_tokens=33) == "We open at 9 am."
    assert fake.errors == []
    sent = fake.requests[0]
    assert sent["messages"] == MESSAGES and sent["max_tokens"] == 33 and sent["stream"] is True
    assert sent["temperature"] == 0.2


async def test_a_wrong_key_or_an_http_error_fails_the_answer_with_the_reason():
    fake = FakeChatCompletions(key="sk-right")
    async with fake.running():
        with pytest.raises(RemoteLLMError, match="HTTP 401"):
            await answer(RemoteLLM(remote(fake), api_key="sk-wrong"))
        fake.key, fake.status = None, 503
        with pytest.raises(RemoteLLMError, match="HTTP 503"):
            await answer(RemoteLLM(remote(fake)))


async def test_an_endpoint_that_stops_sending_is_cut_after_the_read_timeout():
    fake = FakeChatCompletions(hang_after=1)
    async with fake.running():
        llm = RemoteLLM(remote(fake, request_timeout_s=0.3))
        got: list[str] = []
        with pytest.raises(RemoteLLMError):
            async for piece in llm.astream(MESSAGES, max_tokens=10):
                got.append(piece)
    assert got == ["We open "]


async def test_an_oversized_or_malformed_stream_fails_instead_of_growing():
    fake = FakeChatCompletions(pieces=["x" * 500] * 20)
    async with fake.running():
        with pytest.raises(RemoteLLMError, match="bytes"):
            await answer(RemoteLLM(remote(fake, max_response_bytes=4096)))
        fake.raw_lines = ["data: {not json"]
        with pytest.raises(RemoteLLMError, match="not JSON"):
            await answer(RemoteLLM(remote(fake)))


async def test_cancelling_the_answer_closes_the_remote_stream():
    fake = FakeChatCompletions(pieces=["a "] * 200, piece_interval_s=0.01)
    async with fake.running():
        llm = RemoteLLM(remote(fake))
        got = 0
        with anyio.CancelScope() as scope:
            async for _ in llm.astream(MESSAGES, max_tokens=200):
                got += 1
                if got == 3:
                    scope.cancel()  # the caller hung up / barged in
        with anyio.fail_after(5):
            while fake.disconnects == 0:
                await anyio.sleep(0.01)
    assert fake.completed == 0 and fake.disconnects == 1


async def test_runtime_streams_a_remote_model_without_cpu_jobs():
    fake = FakeChatCompletions()
    async with fake.running():
        runtime = Runtime(Settings(llm=remote(fake), concurrency={"cpu_jobs": 1}),
                          ModelSet.of(stt=object(), llm=RemoteLLM(remote(fake)), tts=object()))
        tokens: list[str] = []

        async def on_token(token: str) -> None:
            tokens.append(token)

        async with runtime.cpu.place("other-session"):  # the only CPU job is taken: the remote answer still flows
            await runtime.generate(MESSAGES, 20, on_token)
    assert "".join(tokens) == "We open at 9 am."


def test_sse_lines_follow_the_documented_shape():
    assert parse_sse_line(": keep-alive") == ""
    assert parse_sse_line('data: {"choices": [{"delta": {"content": "Hi"}}]}') == "Hi"
    assert parse_sse_line('data: {"choices": []}') == ""  # usage-only chunk
    assert parse_sse_line("data: [DONE]") is None
    with pytest.raises(RemoteLLMError, match="endpoint reported"):
        parse_sse_line('data: {"error": {"message": "model not loaded"}}')


def test_the_key_comes_only_from_the_environment(tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("llm:\n  backend: openai_compatible\n  base_url: http://h/v1\n  model: m\n  api_key: sk-x\n")
    with pytest.raises(ValueError, match="LOCAL_AI_LLM__API_KEY"):
        load_settings(config)
    config.write_text("llm:\n  backend: openai_compatible\n  base_url: http://h/v1\n  model: m\n")
    monkeypatch.setenv("LOCAL_AI_LLM__API_KEY", "sk-from-env")
    settings = load_settings(config)
    assert settings.llm.api_key.get_secret_value() == "sk-from-env"
    assert "sk-from-env" not in repr(settings) and "sk-from-env" not in settings.model_dump_json()


def test_the_remote_backend_needs_an_endpoint_and_a_model():
    with pytest.raises(ValidationError, match="base_url"):
        LlmSettings(backend="openai_compatible", model="m")


def test_stt_device_settings_reach_the_config():
    settings = Settings(stt={"device": "cuda", "compute_type": "float16"})
    assert (settings.stt.device, settings.stt.compute_type) == ("cuda", "float16")
    with pytest.raises(ValidationError):
        Settings(stt={"device": "tpu"})
