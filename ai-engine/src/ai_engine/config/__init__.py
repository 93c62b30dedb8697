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
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from voice_common.settings import SecretFreeYamlSource

from .calls import BargeInSettings, CallSettings, PersonaSettings, PlaybackSettings
from .media import AriSettings, AudioSocketSettings, RtpSettings, WebSocketMediaSettings
from .providers import (
    AnyProviderSettings,
    DeepgramAgentSettings,
    GeminiLiveSettings,
    OpenAIRealtimeSettings,
    ProviderSettings,
    ReplicaSettings,
)
from .service import ApiSettings, HttpSettings, LogSettings, RecordsSettings

ENV_PREFIX = "AI_ENGINE_"
CONFIG_ENV = "AI_ENGINE_CONFIG"
DEFAULT_CONFIG_FILE = Path("config/ai-engine.yaml")
# Dotted keys that may only come from the environment (`*`: any name in a dict section).
SECRETS = ("ari.password", "providers.*.auth_token", "providers.*.api_key", "api.token", "records.database_password")
PLACEHOLDER_PASSWORDS = {"change_me", "changeme", "password", "secret"}

__all__ = [
    "AnyProviderSettings", "ApiSettings", "AriSettings", "AudioSocketSettings", "BargeInSettings", "CallSettings",
    "DeepgramAgentSettings", "GeminiLiveSettings", "HttpSettings", "LogSettings", "OpenAIRealtimeSettings",
    "PersonaSettings", "PlaybackSettings", "ProviderSettings", "RecordsSettings", "ReplicaSettings", "RtpSettings",
    "Settings", "WebSocketMediaSettings", "ENV_PREFIX", "CONFIG_ENV", "SECRETS", "config_file_path", "load_settings",
]


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
