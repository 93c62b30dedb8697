"""The engine's one source of configuration: a typed settings object.

Values come from (highest priority first) keyword arguments, environment variables
(`AI_ENGINE_<SECTION>__<KEY>`, e.g. `AI_ENGINE_ARI__PASSWORD`), the YAML file named by
`AI_ENGINE_CONFIG` (default `config/ai-engine.yaml` when it exists), then the defaults below.
Secrets (the ARI password, provider tokens) are read from the environment only: a YAML file
that holds one is refused at startup. Every key and default is listed in the README
(`make config-docs` regenerates that table from this file).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from voice_common.settings import SecretFreeYamlSource, Section

from .tools.settings import KnowledgeBaseSettings, LookupSettings, TransferTarget

ENV_PREFIX = "AI_ENGINE_"
CONFIG_ENV = "AI_ENGINE_CONFIG"
DEFAULT_CONFIG_FILE = Path("config/ai-engine.yaml")
# Dotted keys that may only come from the environment (`*`: any name in a dict section).
SECRETS = ("ari.password", "providers.*.auth_token", "providers.*.api_key", "api.token", "records.database_password")
PLACEHOLDER_PASSWORDS = {"change_me", "changeme", "password", "secret"}


_Section = Section  # a misspelt key is an error, not a silent default


class AriSettings(_Section):
    url: str = Field("http://127.0.0.1:8088/", description="Asterisk HTTP base URL (ARI lives under /ari).")
    username: str = Field("ai-agent", description="ARI user (ari.conf section).")
    password: SecretStr = Field(
        SecretStr(""), description="ARI password. Environment only: AI_ENGINE_ARI__PASSWORD. Required."
    )
    app: str = Field("ai-agent", description="Stasis application name; one engine per app name.")
    request_timeout_s: float = Field(5.0, gt=0, description="Bound on every ARI REST request.")
    reconnect_min_s: float = Field(0.5, gt=0, description="First back-off delay after a lost connection.")
    reconnect_max_s: float = Field(10.0, gt=0, description="Largest back-off delay.")
    cleanup_orphans: bool = Field(
        True, description="After (re)connecting, hang up channels and destroy bridges of this app that no live call owns."
    )

    @field_validator("url")
    @classmethod
    def _trailing_slash(cls, v: str) -> str:
        return v if v.endswith("/") else v + "/"


class AudioSocketSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the AudioSocket TCP server binds to.")
    port: int = Field(8090, ge=0, le=65535, description="AudioSocket TCP port (the dialplan's AudioSocket(<uuid>,host:port)).")
    advertise_host: str = Field(
        "127.0.0.1", description="Host Asterisk connects to for externalMedia legs (external_host=<advertise_host>:<port>)."
    )
    uuid_timeout_s: float = Field(
        2.0, gt=0, description="A new connection must send its UUID frame within this time (legs the engine is waiting for get calls.setup_timeout_s)."
    )
    max_unidentified: int = Field(
        8, ge=1, description="Connections that have not sent their UUID yet, at most (plus one per leg the engine is waiting for); more are refused."
    )
    read_timeout_s: float = Field(
        5.0, gt=0, description="A bound leg that sends nothing for this long is considered dead (RTP and WebSocket legs too)."
    )
    keepalive_s: float = Field(
        0.5, gt=0, description="Send a 20 ms silence frame when nothing crossed the socket for this long (Asterisk hangs up after 2 s)."
    )
    max_payload_bytes: int = Field(8192, ge=320, le=65535, description="Largest accepted frame payload.")


class RtpSettings(_Section):
    """ExternalMedia over RTP/UDP (`calls.audio_transport: externalmedia_rtp`): one UDP port per leg."""

    host: str = Field("127.0.0.1", description="Address the engine's RTP sockets bind to (0.0.0.0 when Asterisk is on another host).")
    advertise_host: str = Field(
        "127.0.0.1", description="Address Asterisk sends RTP to (externalMedia external_host=<advertise_host>:<port>)."
    )
    port_start: int = Field(20000, ge=1024, le=65534, description="First UDP port of the engine's RTP range (even ports are used).")
    port_end: int = Field(20999, ge=1025, le=65535, description="Last UDP port of the engine's RTP range (two legs per call at most).")
    format: Literal["slin16", "slin", "ulaw"] = Field(
        "slin16", description="externalMedia format= of the RTP legs: what Asterisk sends (slin16: 16 kHz, PT 118)."
    )
    reorder_packets: int = Field(
        2, ge=0, le=10, description="Packets held to put out-of-order arrivals back in order (each adds 20 ms only when one is missing)."
    )
    max_packet_bytes: int = Field(1500, ge=200, le=65535, description="Larger datagrams are dropped and counted.")


class WebSocketMediaSettings(_Section):
    """ExternalMedia over chan_websocket (`calls.audio_transport: websocket`): the engine connects to
    Asterisk's own HTTP server (connection_type=server), no extra port on either side."""

    media_url: str | None = Field(
        None, description="Base URL of Asterisk's media WebSocket (ws[s]://host:8088/media/); null: derived from ari.url."
    )
    format: Literal["slin16", "slin"] = Field(
        "slin16", description="externalMedia format= of the WebSocket legs (slin16: 640-byte binary frames, little-endian)."
    )
    connect_timeout_s: float = Field(3.0, gt=0, description="Bound on the WebSocket connect and Asterisk's MEDIA_START.")
    max_message_bytes: int = Field(65536, ge=1024, description="Largest accepted message from Asterisk.")


class CallSettings(_Section):
    max_concurrent_calls: int = Field(
        16,
        ge=1,
        description="Calls over this number are refused (sent to overflow_context). Keep it at most the provider's "
        "session limit (local-ai-server: server.max_sessions, 16): a call the provider refuses hears the hold prompt "
        "and goes to failure_context instead.",
    )
    audio_transport: Literal["snoop_fork", "snoop_externalmedia", "bridge_fork", "externalmedia_rtp", "websocket"] = Field(
        "snoop_fork",
        description="Capture path: snoop(spy=in)+Local fork, snoop+externalMedia AudioSocket, the echo-prone fork in the "
        "caller's bridge, snoop+externalMedia RTP (rtp section; stream playback over RTP too), or snoop+chan_websocket "
        "(websocket section; stream playback over WebSocket too).",
    )
    media_fork_context: str = Field("ai-agent-media-fork", description="Dialplan context running AudioSocket(<uuid>,host:port).")
    media_fork_formats: Literal["slin", "ulaw"] = Field("slin", description="formats= for the Local fork originate (never empty: slin192).")
    capture_format: Literal["slin", "slin16"] = Field(
        "slin",
        description="snoop_externalmedia: format= of the AudioSocket capture leg; slin16 streams 16 kHz frames (kind 0x12, "
        "recorded on Asterisk 22.10.1) so the provider gets wideband audio without an 8 kHz step.",
    )
    overflow_context: str = Field("ai-agent-overflow", description="Context (exten s, priority 1) that refused calls continue to.")
    setup_timeout_s: float = Field(5.0, gt=0, description="Bound on each wait while building a call (StasisStart, AudioSocket connect).")
    teardown_timeout_s: float = Field(5.0, gt=0, description="Bound on a call's cleanup.")
    failure_context: str = Field(
        "ai-agent-unavailable",
        description="When the engine cannot go on with a call (setup or provider failure, shutdown) the caller continues here (exten s); empty: hang up.",
    )
    provider_reconnect_s: float = Field(
        10.0, ge=0, description="How long to keep reconnecting a lost provider (the caller hears a hold prompt) before giving up."
    )
    provider_response_timeout_s: float = Field(
        15.0, gt=0, description="A transcribed caller turn with no response.created this long after counts as a lost provider."
    )
    max_duration_s: float = Field(3600.0, gt=0, description="Calls are ended politely (goodbye prompt) after this long.")
    silence_timeout_s: float = Field(
        120.0, gt=0, description="Calls where the caller says nothing for this long (and the agent is quiet) end politely."
    )
    shutdown_timeout_s: float = Field(10.0, gt=0, description="On SIGTERM, active calls get this long to end cleanly.")
    provider_down_prompt: Path | None = Field(
        None, description="8 kHz mono 16-bit WAV played when the provider is lost; null: the bundled one."
    )
    goodbye_prompt: Path | None = Field(None, description="WAV played before the engine ends a call; null: the bundled one.")
    default_persona: str = Field("default", description="Persona used when Stasis() gets no argument or an unknown one.")


class PersonaSettings(_Section):
    provider: str = Field("local", description="Name of the provider (a key of `providers`).")
    instructions: str = Field(
        "You are a friendly phone agent. Answer in one or two short sentences.",
        description="System instructions for the AI.",
    )
    greeting: str | None = Field("Hello, how can I help you?", description="Spoken first, verbatim; empty for none.")
    voice: str | None = Field(None, description="Provider voice name; null for the provider's default.")
    tools: list[Literal["transfer", "hangup", "lookup", "knowledge_base"]] = Field(
        default_factory=list, description="Built-in tools the model may call in this persona's calls (docs/tools.md)."
    )
    tool_choice: Literal["auto", "required", "none"] = Field(
        "auto",
        description="Whether the model must call a tool: `auto` (it decides), `required` (a tool on every caller "
        "turn, then it speaks: with only knowledge_base, a documents-first persona), `none`; Realtime providers "
        "(local, OpenAI) only, ignored by Deepgram and Gemini (docs/tools.md).",
    )
    transfer_targets: dict[str, TransferTarget] = Field(
        default_factory=dict, description="Named transfer targets (the `transfer` tool and the DTMF key map name them)."
    )
    farewell: str = Field("Thank you for calling. Goodbye.", description="Said by the hangup tool (and a DTMF hangup) unless the model gives one.")
    lookup: LookupSettings = Field(default_factory=LookupSettings, description="The `lookup` tool's HTTP service.")
    knowledge_base: KnowledgeBaseSettings = Field(
        default_factory=KnowledgeBaseSettings, description="The `knowledge_base` tool's documents."
    )
    tool_timeout_s: float = Field(10.0, gt=0, le=120, description="A tool call that takes longer is abandoned and the model told so.")
    dtmf_keys: dict[str, str] = Field(
        default_factory=dict,
        description="DTMF key map: digits -> action (`transfer <target>`, `hangup`, or `say <text>` sent to the model); "
        "other digits reach the model as text ('the caller pressed 1').",
    )
    dtmf_interdigit_s: float = Field(
        2.0, gt=0, le=10, description="Digits pressed within this long of each other form one entry (multi-digit keys)."
    )

    @field_validator("dtmf_keys")
    @classmethod
    def _dtmf_keys(cls, v: dict[str, str]) -> dict[str, str]:
        for digits, action in v.items():
            if not digits or any(c not in "0123456789*#ABCD" for c in digits):
                raise ValueError(f"dtmf key {digits!r}: digits are 0-9, *, #, A-D")
            verb = action.split(maxsplit=1)[0] if action.strip() else ""
            if verb not in ("transfer", "hangup", "say"):
                raise ValueError(f"dtmf key {digits!r}: action {action!r} is not transfer <target>, hangup or say <text>")
        return v
    record: bool = Field(False, description="Record the call bridge through ARI into records.recordings_dir, linked from the call record.")
    record_announcement: str | None = Field(
        None,
        description="Told to the caller when the call is recorded: `sound:<name>` plays that Asterisk sound on the "
        "bridge, any other text is spoken by the agent before the greeting; null: nothing.",
    )
    webhook_url: str | None = Field(
        None, description="After each call of this persona, its record is POSTed here as JSON (retried, bounded); null: none."
    )

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        return v or None


class PlaybackSettings(_Section):
    downstream_mode: Literal["file", "stream"] = Field("file", description="How agent audio reaches the caller.")
    media_dir: Path = Field(Path("shared-media"), description="Folder the engine writes agent audio files into.")
    sound_prefix: str = Field(
        "ai-generated", description="Name Asterisk plays that folder by: media=sound:<sound_prefix>/<file name without .wav>."
    )
    max_file_age_s: float = Field(300.0, gt=0, description="The sweeper deletes engine files older than this.")
    sweep_interval_s: float = Field(60.0, gt=0, description="How often the sweeper runs.")
    finish_timeout_margin_s: float = Field(
        3.0, gt=0, description="A playback with no PlaybackFinished by its duration plus this margin is given up."
    )
    segment_min_ms: int = Field(
        400, ge=0, description="File mode: a reply is cut into files at text boundaries once a file holds this much audio."
    )
    stream_format: Literal["slin", "slin12", "slin16", "slin24", "slin32", "slin44", "slin48", "slin96", "slin192"] = Field(
        "slin", description="Stream mode: format of the externalMedia playback leg (frames of the matching kind)."
    )
    stream_start_ms: int = Field(60, ge=0, le=1000, description="Stream mode: audio buffered before a reply starts playing.")
    stream_max_lag_ms: int = Field(
        100, ge=20, description="Stream mode: pacing restarts from now (no burst) when this far behind schedule."
    )


class BargeInSettings(_Section):
    enabled: bool = Field(True, description="Caller speech while the agent talks stops the agent and cancels its reply.")
    protection_ms: int = Field(
        300,
        ge=0,
        description="Speech onset is ignored this long after agent audio starts (line noise, a cough); a caller still "
        "talking min_speech_ms after it interrupts.",
    )
    min_speech_ms: int = Field(60, ge=20, description="Voiced caller audio needed (engine VAD) before it counts as speech.")
    vad_aggressiveness: int = Field(2, ge=0, le=3, description="webrtcvad mode for the engine's speech detection (3 = strictest).")
    min_level_dbfs: float = Field(-45.0, le=0, description="Caller frames quieter than this are never speech (line noise).")
    use_provider_events: bool = Field(True, description="Also take speech onset from the provider's speech_started.")


class ReplicaSettings(_Section):
    url: str = Field(description="This replica's Realtime WebSocket URL.")
    health_url: str | None = Field(None, description="This replica's readiness URL (GET, 200 = ready); null: judged by connects only.")


class ProviderSettings(_Section):
    kind: Literal["realtime", "echo"] = Field(
        "realtime", description="realtime: OpenAI Realtime subset client (docs/architecture.md §4); echo: plays the caller back (line tests)."
    )
    url: str = Field("ws://127.0.0.1:8765/v1/realtime", description="Realtime WebSocket URL.")
    health_url: str | None = Field("http://127.0.0.1:8765/health", description="Readiness URL polled by /health; null to skip.")
    auth_token: SecretStr | None = Field(
        None, description="Bearer token. Environment only: AI_ENGINE_PROVIDERS__<NAME>__AUTH_TOKEN."
    )
    model: str | None = Field(None, description="Model name sent in session.update (cloud providers).")
    input_rate: Literal[8000, 16000, 24000] = Field(8000, description="Caller audio rate sent to the provider (audio/pcm).")
    output_rate: Literal[8000, 16000, 24000] = Field(8000, description="Agent audio rate asked from the provider (audio/pcm).")
    silence_duration_ms: int = Field(500, ge=100, description="Server VAD end-of-turn silence.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Bound on the WebSocket connect and session.created.")
    send_timeout_s: float = Field(
        2.0, gt=0, description="Bound on one send to the provider; a provider that stops reading counts as lost."
    )
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=65536, description="Largest accepted provider message.")
    replicas: list[ReplicaSettings] = Field(
        default_factory=list, description="Several local-ai-server replicas (replaces url/health_url): each new call goes to "
        "the ready replica with the fewest calls; one that fails its health check or a connect is skipped (docs/scaling.md).")
    replica_retry_s: float = Field(
        10.0, gt=0, description="A replica whose connect failed gets no new call for this long (unless all are down).")


class _CloudProviderSettings(_Section):
    """What every cloud provider has: an endpoint, a key from the environment, bounds."""

    kind: str = Field(description="Which vendor API this entry speaks.")
    url: str = Field(description="The vendor's WebSocket URL.")
    api_key: SecretStr | None = Field(
        None,
        description="API key. Environment only: AI_ENGINE_PROVIDERS__<NAME>__API_KEY (else the variable named by api_key_env).",
    )
    api_key_env: str = Field("", description="Environment variable read for the key when api_key is not set.")
    language: str | None = Field("en", description="Language of the conversation (BCP-47 or the vendor's code); null: the vendor's default.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Bound on the WebSocket connect and the vendor's first answer.")
    send_timeout_s: float = Field(2.0, gt=0, description="Bound on one send; a vendor that stops reading counts as lost.")
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=65536, description="Largest accepted vendor message.")

    def key(self) -> str | None:
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        return (os.environ.get(self.api_key_env) or None) if self.api_key_env else None


class OpenAIRealtimeSettings(_CloudProviderSettings):
    kind: Literal["openai_realtime"] = Field(description="OpenAI Realtime API (GA), one WebSocket per call.")
    url: str = Field("wss://api.openai.com/v1/realtime", description="Realtime WebSocket URL (the model is added as ?model=).")
    model: str = Field("gpt-realtime", description="Realtime model (fixed per connection, sent in the URL).")
    voice: str = Field("marin", description="Output voice; a persona's voice overrides it.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable read for the key when api_key is not set.")
    audio_format: Literal["pcmu", "pcm24"] = Field(
        "pcmu", description="pcmu: G.711 mu-law 8 kHz both ways (phone calls, no resampling); pcm24: audio/pcm 24 kHz (wideband)."
    )
    turn_detection: Literal["server_vad", "semantic_vad"] = Field("server_vad", description="Who decides the caller's turn ended.")
    vad_threshold: float = Field(0.5, ge=0, le=1, description="server_vad: activation threshold.")
    prefix_padding_ms: int = Field(300, ge=0, description="server_vad: audio kept before detected speech.")
    silence_duration_ms: int = Field(500, ge=100, description="server_vad: silence that ends the caller's turn.")
    eagerness: Literal["low", "medium", "high", "auto"] = Field("auto", description="semantic_vad: how eagerly the model answers.")
    transcription_model: str = Field("gpt-4o-mini-transcribe", description="Model transcribing the caller (caller transcript, response watchdog).")


class DeepgramAgentSettings(_CloudProviderSettings):
    kind: Literal["deepgram_agent"] = Field(description="Deepgram Voice Agent API v1, one WebSocket per call.")
    url: str = Field("wss://agent.deepgram.com/v1/agent/converse", description="Voice Agent WebSocket URL.")
    api_key_env: str = Field("DEEPGRAM_API_KEY", description="Environment variable read for the key when api_key is not set.")
    audio_encoding: Literal["mulaw", "linear16"] = Field("mulaw", description="Audio both ways: mulaw (8 kHz phone audio) or linear16.")
    sample_rate: Literal[8000, 16000, 24000] = Field(8000, description="Sample rate both ways (mulaw: 8000).")
    listen_model: str = Field("nova-3", description="agent.listen.provider.model (Deepgram speech-to-text).")
    think_provider: str = Field("open_ai", description="agent.think.provider.type (the LLM vendor).")
    think_model: str = Field("gpt-4o-mini", description="agent.think.provider.model.")
    speak_model: str = Field("aura-2-thalia-en", description="agent.speak.provider.model (Deepgram voice); a persona's voice overrides it.")
    keepalive_s: float = Field(5.0, gt=0, description="KeepAlive sent when no audio went out for this long.")


class GeminiLiveSettings(_CloudProviderSettings):
    kind: Literal["gemini_live"] = Field(description="Google Gemini Live API (BidiGenerateContent), one WebSocket per call.")
    url: str = Field(
        "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
        description="Live API WebSocket URL (the key goes in the x-goog-api-key header, never in the URL).",
    )
    model: str = Field("models/gemini-2.5-flash-native-audio-preview-09-2025", description="Live model (setup.model).")
    voice: str = Field("Puck", description="Prebuilt voice name; a persona's voice overrides it.")
    api_key_env: str = Field("GEMINI_API_KEY", description="Environment variable read for the key when api_key is not set.")
    start_sensitivity: Literal["START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"] | None = Field(
        None, description="Automatic activity detection: start-of-speech sensitivity; null: the vendor's default."
    )
    end_sensitivity: Literal["END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"] | None = Field(
        None, description="Automatic activity detection: end-of-speech sensitivity; null: the vendor's default."
    )
    silence_duration_ms: int | None = Field(None, ge=0, description="Silence that ends the caller's turn; null: the vendor's default.")
    prefix_padding_ms: int | None = Field(None, ge=0, description="Speech needed before a start of speech counts; null: default.")


def _provider_kind(value: Any) -> str:
    kind = value.get("kind", "realtime") if isinstance(value, dict) else getattr(value, "kind", "realtime")
    return "local" if kind in ("realtime", "echo") else kind


AnyProviderSettings = Annotated[
    Annotated[ProviderSettings, Tag("local")]
    | Annotated[OpenAIRealtimeSettings, Tag("openai_realtime")]
    | Annotated[DeepgramAgentSettings, Tag("deepgram_agent")]
    | Annotated[GeminiLiveSettings, Tag("gemini_live")],
    Discriminator(_provider_kind),
]


class HttpSettings(_Section):
    host: str = Field("127.0.0.1", description="Address of the health/metrics API.")
    port: int = Field(15000, ge=0, le=65535, description="Port of the health/metrics API.")


class ApiSettings(_Section):
    token: SecretStr | None = Field(
        None,
        description="Bearer token for /calls (call records: caller numbers, transcripts, recordings) and /health "
        "details. Environment only: AI_ENGINE_API__TOKEN. Unset: /calls answers 403 and /health shows only ok/degraded.",
    )

    @field_validator("token")
    @classmethod
    def _empty_is_none(cls, v: SecretStr | None) -> SecretStr | None:
        return v if v is not None and v.get_secret_value().strip() else None


class RecordsSettings(_Section):
    """Call records: one per call, in SQLite (default) or PostgreSQL, with retention."""

    enabled: bool = Field(True, description="Keep a record of every call (caller, persona, times, outcome, transcript).")
    data_dir: Path = Field(Path("data"), description="Folder (a volume) of the SQLite database and, by default, of recordings.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql://ai@db/calls (engines sharing one history); null: "
        "sqlite:///<data_dir>/calls.db. No password here: see database_password.",
    )
    database_password: SecretStr | None = Field(
        None, description="Password for database_url. Environment only: AI_ENGINE_RECORDS__DATABASE_PASSWORD."
    )
    database_timeout_s: float = Field(5.0, gt=0, description="Bound on connecting to the database (and SQLite's lock wait).")
    retention_days: float = Field(90.0, ge=0, description="Records and recordings older than this are deleted; 0 keeps them.")
    retention_interval_s: float = Field(3600.0, gt=0, description="How often retention runs.")
    redact_digits: bool = Field(False, description="Mask digit strings in caller numbers and transcripts before saving.")
    redact_keep: int = Field(2, ge=0, description="Redaction keeps this many last digits of each digit string.")
    redact_min_digits: int = Field(4, ge=1, description="Transcript digit strings shorter than this are not masked.")
    recordings_dir: Path | None = Field(
        None,
        description="Where the engine finds call recordings: Asterisk's <astspooldir>/recording, shared as a volume; "
        "null: <data_dir>/recordings.",
    )
    webhook_timeout_s: float = Field(5.0, gt=0, description="Bound on one webhook POST.")
    webhook_attempts: int = Field(3, ge=1, le=10, description="Webhook POSTs per call at most (the first plus retries).")
    webhook_backoff_s: float = Field(1.0, ge=0, description="Wait before the first retry; doubled for each next one.")


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["json", "console"] = Field("json", description="json: one JSON object per line; console: human readable.")


def _default_providers() -> dict[str, AnyProviderSettings]:
    return {"local": ProviderSettings()}


def _default_personas() -> dict[str, PersonaSettings]:
    return {"default": PersonaSettings()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    ari: AriSettings = AriSettings()
    audiosocket: AudioSocketSettings = AudioSocketSettings()
    rtp: RtpSettings = RtpSettings()
    websocket: WebSocketMediaSettings = WebSocketMediaSettings()
    calls: CallSettings = CallSettings()
    personas: dict[str, PersonaSettings] = Field(
        default_factory=_default_personas, description="Personas by name; Stasis(<app>,<name>) picks one."
    )
    playback: PlaybackSettings = PlaybackSettings()
    barge_in: BargeInSettings = BargeInSettings()
    providers: dict[str, AnyProviderSettings] = Field(
        default_factory=_default_providers,
        description="AI providers by name (`kind`: realtime, echo, openai_realtime, deepgram_agent, gemini_live); `local` is local-ai-server.",
    )
    http: HttpSettings = HttpSettings()
    api: ApiSettings = ApiSettings()
    records: RecordsSettings = RecordsSettings()
    log: LogSettings = LogSettings()

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
        path = config_file_path()
        if path is not None:
            sources.append(SecretFreeYamlSource(settings_cls, path, SECRETS, ENV_PREFIX))
        return tuple(sources)

    def check_ready_to_run(self) -> None:
        """Startup checks that the types alone cannot express."""
        password = self.ari.password.get_secret_value()
        if not password:
            raise ValueError("ARI password is empty: set AI_ENGINE_ARI__PASSWORD (there is no default)")
        if password.lower() in PLACEHOLDER_PASSWORDS:
            raise ValueError("ARI password is still the placeholder: set a real one in ari.conf and AI_ENGINE_ARI__PASSWORD")
        if self.rtp.port_end <= self.rtp.port_start:
            raise ValueError("rtp.port_end must be above rtp.port_start")
        if self.calls.default_persona not in self.personas:
            raise ValueError(f"calls.default_persona {self.calls.default_persona!r} is not in personas")
        for name, persona in self.personas.items():
            if persona.provider not in self.providers:
                raise ValueError(f"personas.{name}.provider {persona.provider!r} is not in providers")
            needs = {
                "transfer": ("transfer_targets", persona.transfer_targets),
                "lookup": ("lookup.url", persona.lookup.url),
                "knowledge_base": ("knowledge_base.folder", persona.knowledge_base.folder),
            }
            for tool in persona.tools:
                key, value = needs.get(tool, ("", True))  # hangup needs nothing
                if not value:
                    raise ValueError(f"personas.{name}.tools has {tool} but personas.{name}.{key} is not set")
            for digits, action in persona.dtmf_keys.items():
                verb, _, target = action.partition(" ")
                if verb == "transfer" and target.strip() not in persona.transfer_targets:
                    raise ValueError(f"personas.{name}.dtmf_keys.{digits}: no transfer target {target.strip()!r}")
        if self.records.database_url and "@" in self.records.database_url.split("//", 1)[-1].split("/", 1)[0]:
            userinfo = self.records.database_url.split("//", 1)[-1].split("@", 1)[0]
            if ":" in userinfo:
                raise ValueError(
                    "records.database_url holds a password: put it in AI_ENGINE_RECORDS__DATABASE_PASSWORD instead"
                )


def config_file_path() -> Path | None:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"{CONFIG_ENV}={explicit}: no such file")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
