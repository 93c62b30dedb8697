"""Settings: defaults, the shipped YAML, environment overrides, the token, bundled model paths."""

from pathlib import Path

import pytest
from local_ai_server.config import Settings, load_settings
from local_ai_server.speech.conversation import Conversation, Item, history_start
from local_ai_server.models.bundled import BUNDLED_LLM, BUNDLED_STT, BUNDLED_TTS, ModelNotFoundError, resolve
from pydantic import ValidationError

SHIPPED = Path(__file__).resolve().parents[3] / "local-ai-server" / "config" / "local-ai-server.yaml"


def test_contract_defaults():
    settings = Settings()
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8765)
    assert settings.auth_token is None
    assert settings.stt.model_path is None and settings.llm.model_path is None and settings.tts.model_path is None
    assert settings.stt.beam_size == 1


def test_shipped_yaml_documents_exactly_the_defaults():
    assert load_settings(SHIPPED) == Settings()


def test_yaml_from_env_var_and_env_overrides(tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  port: 9100\nllm:\n  max_tokens: 40\n  temperature: 0.1\n")
    monkeypatch.setenv("LOCAL_AI_CONFIG", str(config))
    monkeypatch.setenv("LOCAL_AI_LLM__MODEL_PATH", "/models/x.gguf")
    monkeypatch.setenv("LOCAL_AI_LLM__MAX_TOKENS", "60")
    monkeypatch.setenv("LOCAL_AI_AUTH_TOKEN", "tok")
    settings = load_settings()
    assert settings.server.port == 9100
    assert settings.llm.max_tokens == 60  # the environment wins over the file
    assert settings.llm.temperature == 0.1  # the rest of the section stays from the file
    assert settings.llm.model_path == Path("/models/x.gguf")
    assert settings.auth_token.get_secret_value() == "tok"


def test_the_statement_hold_can_be_unset_from_the_environment(monkeypatch):
    """`LOCAL_AI_VAD__STATEMENT_HOLD_MS=unclear`: whole statements wait the unclear hold again."""
    assert Settings().vad.statement_hold_ms == 100
    monkeypatch.setenv("LOCAL_AI_VAD__STATEMENT_HOLD_MS", "unclear")
    assert load_settings().vad.statement_hold_ms is None
    monkeypatch.setenv("LOCAL_AI_VAD__STATEMENT_HOLD_MS", "250")
    assert load_settings().vad.statement_hold_ms == 250
    monkeypatch.setenv("LOCAL_AI_VAD__STATEMENT_HOLD_MS", "-5")
    with pytest.raises(ValidationError):
        load_settings()


def test_token_is_refused_in_yaml(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("auth_token: hunter2\n")
    with pytest.raises(ValueError, match="environment"):
        load_settings(config)


def test_unknown_keys_and_bad_values_are_errors(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("llm:\n  max_tokenz: 3\n")
    with pytest.raises(ValidationError):
        load_settings(config)
    with pytest.raises(ValidationError):
        Settings(session={"output_format": {"type": "audio/pcm", "rate": 11025}})
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.yaml")


def test_bundled_models_are_found_in_site_packages():
    assert (BUNDLED_STT.path() / "model.bin").is_file()
    assert BUNDLED_LLM.path().suffix == ".gguf"
    assert BUNDLED_TTS.path().with_name(BUNDLED_TTS.path().name + ".json").is_file()
    with pytest.raises(ModelNotFoundError):
        resolve(Path("/nonexistent/model.gguf"), BUNDLED_LLM)


def test_prompt_keeps_recent_history_in_stable_steps():
    starts = [history_start(n, 2) for n in range(0, 20)]
    assert starts[:9] == [0] * 9  # up to 4 exchanges: everything
    assert all(4 <= n - s <= 8 for n, s in zip(range(9, 20), starts[9:], strict=True))
    assert all(b >= a for a, b in zip(starts, starts[1:], strict=False))  # only ever moves forward ...
    assert len(set(starts)) <= 20 // 4 + 1  # ... in jumps of two exchanges


def test_chat_messages_carry_instructions_history_and_question():
    conversation = Conversation()
    for i in range(6):
        conversation.add(Item(id=f"u{i}", role="user", text=f"question {i}"))
        conversation.add(Item(id=f"a{i}", role="assistant", text=f"answer {i}"))
    conversation.add(Item(id="s", role="system", text="The caller is Bob."))
    conversation.add(Item(id="u6", role="user", text="question 6"))
    messages = conversation.chat_messages("Be nice.", "Be short.", history_turns=2)
    assert messages[0] == {"role": "system", "content": "Be nice.\nBe short.\nThe caller is Bob."}
    assert messages[-1] == {"role": "user", "content": "question 6"}
    assert 1 + 4 + 1 <= len(messages) <= 1 + 8 + 1


def test_long_past_answers_are_shortened_in_the_prompt_but_not_the_question():
    from local_ai_server.speech.conversation import shorten

    long_answer = "The store opens at nine. " + "It has many aisles and friendly staff. " * 10
    conversation = Conversation(items=[Item("u0", "user", "When do you open?"), Item("a0", "assistant", long_answer),
                                       Item("u1", "user", "x " * 200)])
    messages = conversation.chat_messages("Be brief.", "", history_turns=2, max_item_chars=70)
    assert messages[1]["content"] == "When do you open?"
    assert messages[2]["content"] == "The store opens at nine. It has many aisles and friendly staff."
    assert messages[3]["content"] == ("x " * 200)
    assert shorten("one two three four", 9) == "one two..."


def test_prefill_prompt_is_a_prefix_of_the_next_turns_prompt():
    conversation = Conversation()
    for i in range(7):
        conversation.add(Item(f"u{i}", "user", f"question {i}"))
        conversation.add(Item(f"a{i}", "assistant", f"answer {i}"))
        ahead = conversation.chat_messages("Be nice.", "", history_turns=2, upcoming=True)
        conversation.add(Item(f"q{i}", "user", f"next {i}"))
        actual = conversation.chat_messages("Be nice.", "", history_turns=2)
        assert actual[: len(ahead)] == ahead and actual[-1]["content"] == f"next {i}"
        conversation.items.pop()


def test_every_setting_has_a_meaning_for_the_readme_table():
    from voice_common.settings import undocumented

    assert undocumented(Settings) == []
