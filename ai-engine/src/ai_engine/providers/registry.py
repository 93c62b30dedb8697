"""Which provider class serves which `kind`, and which providers the engine builds: only those
a persona uses (so /health readiness covers exactly the providers calls can reach)."""

from __future__ import annotations

from ..config import Settings
from .base import Provider


def build_provider(name: str, settings) -> Provider:
    kind = settings.kind
    if kind == "echo":
        from .echo import EchoProvider

        return EchoProvider(name, settings)
    if kind == "realtime" and settings.replicas:
        from .replicas import ReplicatedProvider

        return ReplicatedProvider(name, settings)
    if kind == "realtime":
        from .realtime import RealtimeProvider

        return RealtimeProvider(name, settings)
    if kind == "openai_realtime":
        from .openai_realtime import OpenAIRealtimeProvider

        return OpenAIRealtimeProvider(name, settings)
    if kind == "deepgram_agent":
        from .deepgram import DeepgramAgentProvider

        return DeepgramAgentProvider(name, settings)
    if kind == "gemini_live":
        from .gemini import GeminiLiveProvider

        return GeminiLiveProvider(name, settings)
    raise ValueError(f"providers.{name}: unknown kind {kind!r}")


def build_providers(settings: Settings) -> dict[str, Provider]:
    used = {persona.provider for persona in settings.personas.values()}
    return {name: build_provider(name, p) for name, p in settings.providers.items() if name in used}
