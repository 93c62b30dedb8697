"""Settings: defaults, YAML + environment, secrets only from the environment."""
import pytest
from pydantic import ValidationError

from ai_engine.config import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("AI_ENGINE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no config/ai-engine.yaml here


def test_defaults_match_the_design():
    s = Settings()
    assert (s.audiosocket.port, s.http.port, s.ari.app) == (8090, 15000, "ai-agent")
    assert s.calls.media_fork_context == "ai-agent-media-fork"
    assert s.playback.downstream_mode == "file"
    assert s.audiosocket.host == "127.0.0.1" and s.http.host == "127.0.0.1"


def test_empty_ari_password_is_refused_at_startup():
    with pytest.raises(ValueError, match="AI_ENGINE_ARI__PASSWORD"):
        Settings().check_ready_to_run()


def test_environment_overrides_yaml(monkeypatch, tmp_path):
    cfg = tmp_path / "engine.yaml"
    cfg.write_text("ari:\n  app: from-yaml\n  username: yaml-user\ncalls:\n  max_concurrent_calls: 3\n")
    monkeypatch.setenv("AI_ENGINE_CONFIG", str(cfg))
    monkeypatch.setenv("AI_ENGINE_ARI__APP", "from-env")
    monkeypatch.setenv("AI_ENGINE_ARI__PASSWORD", "s3cret")
    s = Settings()
    assert (s.ari.app, s.ari.username, s.calls.max_concurrent_calls) == ("from-env", "yaml-user", 3)
    s.check_ready_to_run()
    assert "s3cret" not in repr(s) and "s3cret" not in s.model_dump_json()


def test_a_secret_in_yaml_is_refused(monkeypatch, tmp_path):
    cfg = tmp_path / "engine.yaml"
    cfg.write_text("ari:\n  password: hunter2\n")
    monkeypatch.setenv("AI_ENGINE_CONFIG", str(cfg))
    with pytest.raises(ValueError, match="environment"):
        Settings()


def test_unknown_keys_and_bad_values_are_clear_errors(monkeypatch, tmp_path):
    cfg = tmp_path / "engine.yaml"
    cfg.write_text("calls:\n  max_concurent_calls: 3\n")
    monkeypatch.setenv("AI_ENGINE_CONFIG", str(cfg))
    with pytest.raises(ValidationError, match="max_concurent_calls"):
        Settings()
    monkeypatch.setenv("AI_ENGINE_CONFIG", "/nonexistent.yaml")
    with pytest.raises(FileNotFoundError):
        Settings()


def test_persona_must_name_a_known_provider(monkeypatch):
    monkeypatch.setenv("AI_ENGINE_ARI__PASSWORD", "x")
    s = Settings(personas={"default": {"provider": "nope"}})
    with pytest.raises(ValueError, match="nope"):
        s.check_ready_to_run()


def test_placeholder_password_from_the_sample_ari_conf_is_refused(monkeypatch):
    monkeypatch.setenv("AI_ENGINE_ARI__PASSWORD", "CHANGE_ME")
    with pytest.raises(ValueError, match="placeholder"):
        Settings().check_ready_to_run()


def test_every_setting_has_a_meaning_for_the_readme_table():
    from voice_common.settings import undocumented

    assert undocumented(Settings) == []


def test_default_admission_fits_the_default_local_ai_server():
    """Calls the provider cannot take must go to overflow at admission, not to the failure
    context after a hold prompt: the engine admits at most what local-ai-server accepts."""
    from local_ai_server.config import Settings as ServerSettings

    assert Settings().calls.max_concurrent_calls <= ServerSettings().server.max_sessions


def test_shipped_config_admission_fits_the_default_local_ai_server():
    from pathlib import Path

    import yaml
    from local_ai_server.config import Settings as ServerSettings

    shipped = yaml.safe_load((Path(__file__).parents[3] / "config" / "ai-engine.yaml").read_text())
    assert shipped["calls"]["max_concurrent_calls"] <= ServerSettings().server.max_sessions


def test_the_api_token_comes_from_the_environment_only(monkeypatch, tmp_path):
    cfg = tmp_path / "engine.yaml"
    cfg.write_text("api:\n  token: abc\n")
    monkeypatch.setenv("AI_ENGINE_CONFIG", str(cfg))
    with pytest.raises(ValueError, match="AI_ENGINE_API__TOKEN"):
        Settings()
    monkeypatch.delenv("AI_ENGINE_CONFIG")
    assert Settings().api.token is None  # no default
    monkeypatch.setenv("AI_ENGINE_API__TOKEN", "from-env")
    assert Settings().api.token.get_secret_value() == "from-env"
