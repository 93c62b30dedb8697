"""OpenAI Realtime API (GA): `protocol.py` (sans-IO messages and event mapping), `session.py` (the WebSocket edge)."""

from .session import OpenAIRealtimeProvider

__all__ = ["OpenAIRealtimeProvider"]
