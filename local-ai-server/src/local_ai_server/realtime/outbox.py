"""The outbox: every server event of a session leaves through it, in the order emitted.

A client that stops reading blocks the writer (the socket applies back-pressure, the queue below
is bounded, and the roles that emit wait); one send blocked past `server.send_timeout_s` ends the
session.

One writer task (`run`) is the only one that sends on the socket. A response's audio/transcript
deltas are tagged with its id; once the response is cancelled (`drop_deltas_of`) the writer drops
any still queued, so nothing of a cancelled response is sent after its `response.done`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import structlog
from realtime_protocol import (
    ConversationItemAdded,
    ConversationItemDone,
    Error,
    Item,
    ProtocolError,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    XLocalResponseMetrics,
    XLocalTurnMetrics,
    serialize,
)

from .. import metrics

log = structlog.get_logger("local_ai_server.session")

DELTAS = (ResponseOutputAudioDelta, ResponseOutputAudioTranscriptDelta, ResponseFunctionCallArgumentsDelta)
QUEUE_EVENTS = 1024  # events waiting for the socket; a slower client makes the session wait
MAX_CANCELLED = 64  # cancelled responses remembered (a long call cancels many)

OnSent = Callable[[], None]


class Outbox:
    def __init__(self, send_timeout_s: float = 15.0) -> None:
        self._send_timeout_s = send_timeout_s
        self._send, self._recv = anyio.create_memory_object_stream[tuple](max_buffer_size=QUEUE_EVENTS)
        self._cancelled: dict[str, None] = {}  # insertion-ordered, bounded
        # Keeps each response's opening and closing events in order (a cancel arriving while
        # `response.created` is being queued sends `response.done` after it).
        self.lifecycle = anyio.Lock()

    async def run(self, send_text: Callable[[str], Awaitable[None]], scope: anyio.CancelScope) -> None:
        """The writer: send queued events until the session ends; a failed send ends the session."""
        async with self._recv:
            async for event, response_id, on_sent in self._recv:
                if response_id is not None and response_id in self._cancelled and isinstance(event, DELTAS):
                    continue
                try:
                    with anyio.fail_after(self._send_timeout_s):
                        await send_text(serialize(event))
                except TimeoutError:  # a client that stopped reading holds no session (and no CPU) forever
                    log.warning("session.send_timeout", seconds=self._send_timeout_s)
                    scope.cancel()
                    return
                except Exception as exc:  # the client went away: stop the whole session
                    log.info("session.send_failed", error=type(exc).__name__)
                    scope.cancel()
                    return
                if on_sent is not None:
                    on_sent()

    def drop_deltas_of(self, response_id: str) -> None:
        self._cancelled[response_id] = None
        while len(self._cancelled) > MAX_CANCELLED:
            del self._cancelled[next(iter(self._cancelled))]

    async def emit(self, event: Any, response_id: str | None = None, on_sent: OnSent | None = None) -> None:
        """Queue a server event (a `realtime_protocol` event object) for the writer."""
        if not isinstance(event, DELTAS):
            log.info("event.out", type=event.type, **_log_fields(event))
        await self._send.send((event, response_id, on_sent))

    async def error(self, exc: ProtocolError) -> None:
        metrics.ERRORS_TOTAL.labels(exc.code).inc()
        log.warning("client.error", code=exc.code, message=exc.message, client_event_id=exc.event_id)
        await self.emit(Error.of(exc))

    async def item_added(self, previous_item_id: str | None, item: Item) -> None:
        """A conversation item is complete as soon as it is added (text, or a finished transcript)."""
        await self.emit(ConversationItemAdded(item, previous_item_id))
        await self.emit(ConversationItemDone(item, previous_item_id))


def _log_fields(event: Any) -> dict:
    fields = {}
    for key in ("item_id", "response_id", "transcript", "audio_start_ms", "audio_end_ms", "call_id", "name",
                "arguments"):
        value = getattr(event, key, None)
        if value is not None:
            fields[key] = value
    if isinstance(event, ResponseDone):
        fields["status"] = event.response.status
    elif isinstance(event, Error):
        fields["code"] = event.code
    elif isinstance(event, XLocalTurnMetrics):
        fields.update(event.stages)
    elif isinstance(event, XLocalResponseMetrics):
        fields.update(first_token_ms=event.first_token_ms, first_audio_ms=event.first_audio_ms)
    return fields
