"""Google Gemini Live API: `protocol.py` (sans-IO messages and event mapping), `session.py` (the WebSocket edge, goAway reconnects)."""

from .session import GeminiLiveProvider

__all__ = ["GeminiLiveProvider"]
