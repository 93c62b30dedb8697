"""The two ends of a Realtime session as h11-style connection objects: they turn text into events
and events into text, keep the little protocol state a side needs, and never touch a socket.

- `ServerConnection` (local-ai-server): parses client events; follows the session's input format
  from each `session.update` it reads, so appended audio is checked against the format in force.
- `ClientConnection` (the engine's providers, test clients): parses server events; remembers the
  responses it cancelled, so a late delta of one is recognisable (`is_cancelled`).
"""

from __future__ import annotations

from typing import Any

from .client_events import ClientEvent, ResponseCancel, SessionUpdate
from .codec import ServerEvent, parse_client_event, parse_server_event, serialize
from .formats import AudioFormat
from .server_events import ResponseCreated, ResponseDone

DEFAULT_MAX_BYTES = 1 << 20


class ServerConnection:
    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, input_format: AudioFormat | None = None) -> None:
        self.max_bytes = max_bytes
        self.input_format = input_format or AudioFormat()

    def receive(self, message: str | bytes) -> ClientEvent:
        event = parse_client_event(message, max_bytes=self.max_bytes, input_format=self.input_format)
        if isinstance(event, SessionUpdate) and event.session.input_format:
            self.input_format = event.session.input_format
        return event

    def send(self, event: Any) -> str:
        return serialize(event)


class ClientConnection:
    MAX_CANCELLED = 64  # remembered cancelled responses (a bounded set: a long call cancels many)

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.current_response: str | None = None
        self._cancelled: dict[str, None] = {}

    def receive(self, message: str | bytes) -> ServerEvent:
        event = parse_server_event(message, max_bytes=self.max_bytes)
        if isinstance(event, ResponseCreated):
            self.current_response = event.response.id
        elif isinstance(event, ResponseDone):
            self._cancelled.pop(event.response.id, None)
            if self.current_response == event.response.id:
                self.current_response = None
        return event

    def send(self, event: Any) -> str:
        if isinstance(event, ResponseCancel):
            cancelled = event.response_id or self.current_response
            if cancelled is not None:
                self._cancelled[cancelled] = None
                while len(self._cancelled) > self.MAX_CANCELLED:
                    del self._cancelled[next(iter(self._cancelled))]
        return serialize(event)

    def is_cancelled(self, response_id: str | None) -> bool:
        return response_id is not None and response_id in self._cancelled
