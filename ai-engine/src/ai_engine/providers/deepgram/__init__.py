"""Deepgram Voice Agent API v1: `protocol.py` (sans-IO messages and event mapping), `session.py` (the WebSocket edge)."""

from .session import DeepgramAgentProvider

__all__ = ["DeepgramAgentProvider"]
