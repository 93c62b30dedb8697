"""Provider settings: one typed entry per provider, told apart by `kind`; keys from the environment only."""
import pytest
from pydantic import ValidationError

from ai_engine.config import DeepgramAgentSettings, GeminiLiveSettings, OpenAIRealtimeSettings, ProviderSettings, Settings
from ai_engine.providers.registry import build_providers

ARI = {"password": "a-real-password-1"}


def settings(**kw) -> Settings:
    return Settings(ari=ARI, **kw)


def test_each_kind_gets_its_own_typed_settings_and_a_typo_is_an_error():
    s = settings(providers={
        "local": {},
        "oa": {"kind": "openai_realtime"},
        "dg": {"kind": "deepgram_agent", "sample_rate": 8000},
        "gm": {"kind": "gemini_live", "voice": "Kore"},
    })
    assert isinstance(s.providers["local"], ProviderSettings)
    assert isinstance(s.providers["oa"], OpenAIRealtimeSettings) and s.providers["oa"].audio_format == "pcmu"
    assert isinstance(s.providers["dg"], DeepgramAgentSettings) and s.providers["dg"].audio_encoding == "mulaw"
    assert isinstance(s.providers["gm"], GeminiLiveSettings) and s.providers["gm"].voice == "Kore"
    with pytest.raises(ValidationError):
        settings(providers={"oa": {"kind": "openai_realtime", "audio_fromat": "pcmu"}})
    with pytest.raises(ValidationError):
        settings(providers={"x": {"kind": "no_such_vendor"}})


def test_api_key_in_yaml_is_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "engine.yaml"
    cfg.write_text("providers:\n  oa:\n    kind: openai_realtime\n    api_key: sk-in-yaml\n")
    monkeypatch.setenv("AI_ENGINE_CONFIG", str(cfg))
    with pytest.raises(ValueError, match="environment"):
        Settings(ari=ARI)


def test_api_key_from_the_engine_variable_or_the_vendors_usual_one(tmp_path, monkeypatch):
    cfg = tmp_path / "engine.yaml"
    cfg.write_text("providers:\n  oa:\n    kind: openai_realtime\n  dg:\n    kind: deepgram_agent\n")
    monkeypatch.setenv("AI_ENGINE_CONFIG", str(cfg))
    monkeypatch.setenv("AI_ENGINE_PROVIDERS__OA__API_KEY", "sk-engine")
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-usual")
    s = Settings(ari=ARI)
    assert s.providers["oa"].key() == "sk-engine" and s.providers["dg"].key() == "dg-usual"
    assert "sk-engine" not in repr(s) and "sk-engine" not in s.model_dump_json()
    monkeypatch.delenv("DEEPGRAM_API_KEY")
    assert Settings(ari=ARI).providers["dg"].key() is None


def test_only_providers_a_persona_uses_are_built():
    s = settings(
        providers={"local": {}, "oa": {"kind": "openai_realtime"}, "gm": {"kind": "gemini_live"}},
        personas={"default": {"provider": "oa"}, "sales": {"provider": "oa"}},
    )
    assert set(build_providers(s)) == {"oa"}


async def test_a_provider_without_a_key_is_not_ready_and_says_why(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    s = settings(providers={"gm": {"kind": "gemini_live"}}, personas={"default": {"provider": "gm"}})
    provider = build_providers(s)["gm"]
    assert await provider.ready() is False and "no API key" in provider.not_ready_reason


pytestmark = pytest.mark.anyio


EXAMPLES = sorted(
    p for p in (__import__("pathlib").Path(__file__).parents[3] / "config" / "examples").glob("*.yaml") if not p.name[0].isdigit()
)  # one per provider kind; the numbered seed systems are test_transport_examples.py's


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_config_loads_and_its_persona_uses_its_provider(example, monkeypatch):
    monkeypatch.setenv("AI_ENGINE_CONFIG", str(example))
    s = Settings(ari=ARI)
    s.check_ready_to_run()
    [provider] = build_providers(s).values()
    assert provider.name == s.personas["default"].provider
