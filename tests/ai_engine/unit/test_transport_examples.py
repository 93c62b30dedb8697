"""config/examples/: each seed system is a named configuration the engine's Settings load as they are."""
from pathlib import Path

import pytest

from ai_engine.config import Settings

EXAMPLES = Path(__file__).resolve().parents[3] / "config" / "examples"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("AI_ENGINE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AI_ENGINE_ARI__PASSWORD", "a-real-password-1234")


def load(monkeypatch, name):
    monkeypatch.setenv("AI_ENGINE_CONFIG", str(EXAMPLES / name))
    s = Settings()
    s.check_ready_to_run()
    return s


def test_seed_002_is_rtp_slin16_with_the_openai_provider(monkeypatch):
    monkeypatch.setenv("AI_ENGINE_PROVIDERS__OPENAI__API_KEY", "sk-test")
    s = load(monkeypatch, "002-rtp-slin16-openai.yaml")
    assert (s.calls.audio_transport, s.rtp.format, s.playback.downstream_mode) == ("externalmedia_rtp", "slin16", "stream")
    openai = s.providers["openai"]
    assert s.personas["default"].provider == "openai" and (openai.kind, openai.audio_format) == ("openai_realtime", "pcm24")
    assert openai.key() == "sk-test"


def test_seed_003_is_audiosocket_with_the_local_provider(monkeypatch):
    s = load(monkeypatch, "003-audiosocket-local.yaml")
    assert (s.calls.audio_transport, s.personas["default"].provider) == ("snoop_fork", "local")


def test_seed_004_is_websocket_slin16_wideband_both_ways(monkeypatch):
    s = load(monkeypatch, "004-websocket-slin16.yaml")
    assert (s.calls.audio_transport, s.websocket.format, s.playback.stream_format) == ("websocket", "slin16", "slin16")
    assert (s.providers["local"].input_rate, s.providers["local"].output_rate) == (16000, 16000)


def test_every_example_is_tested():
    # The per-provider files (<kind>.yaml) are loaded by tests/ai_engine/unit/test_provider_settings.py.
    providers = ["deepgram_agent.yaml", "gemini_live.yaml", "local.yaml", "openai_realtime.yaml"]
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == [
        "002-rtp-slin16-openai.yaml", "003-audiosocket-local.yaml", "004-websocket-slin16.yaml", *providers]
