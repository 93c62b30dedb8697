"""Settings of the AI providers: local-ai-server (and echo), OpenAI Realtime, Deepgram Voice Agent,
Gemini Live; `AnyProviderSettings` tells them apart by `kind`."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, SecretStr, Tag
from voice_common.settings import Section

_Section = Section  # a misspelt key is an error, not a silent default


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
