"""The outbox: every server event of a session leaves through it, in the order emitted.

One writer task (`run`) is the only one that sends on the socket. A response's audio/transcript
deltas are tagged with its id; once the response is cancelled (`drop_deltas_of`) the writer drops
any still queued, so nothing of a cancelled response is sent after its `response.done`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import anyio
import structlog

from .. import metrics
from .protocol import ProtocolError, error_event, server_event

log = structlog.get_logger("local_ai_server.session")

DELTA_TYPES = ("response.output_audio.delta", "response.output_audio_transcript.delta")
QUEUE_EVENTS = 1024  # events waiting for the socket; a slower client makes the session wait

OnSent = Callable[[], None]


class Outbox:
    def __init__(self) -> None:
        self._send, self._recv = anyio.create_memory_object_stream[tuple](max_buffer_size=QUEUE_EVENTS)
        self._cancelled: set[str] = set()
        # Keeps each response's opening and closing events in order (a cancel arriving while
        # `response.created` is being queued sends `response.done` after it).
        self.lifecycle = anyio.Lock()

    async def run(self, send_text: Callable[[str], Awaitable[None]], scope: anyio.CancelScope) -> None:
        """The writer: send queued events until the session ends; a failed send ends the session."""
        async with self._recv:
            async for event, response_id, on_sent in self._recv:
                if response_id is not None and response_id in self._cancelled and event["type"] in DELTA_TYPES:
                    continue
                try:
                    await send_text(json.dumps(event, separators=(",", ":")))
                except Exception as exc:  # the client went away: stop the whole session
                    log.info("session.send_failed", error=type(exc).__name__)
                    scope.cancel()
                    return
                if on_sent is not None:
                    on_sent()

    def drop_deltas_of(self, response_id: str) -> None:
        self._cancelled.add(response_id)

    async def emit(self, event: dict, response_id: str | None = None, on_sent: OnSent | None = None) -> None:
        if event["type"] not in DELTA_TYPES:
            log.info("event.out", type=event["type"], **_log_fields(event))
        await self._send.send((event, response_id, on_sent))

    async def error(self, exc: ProtocolError) -> None:
        metrics.ERRORS_TOTAL.labels(exc.code).inc()
        log.warning("client.error", code=exc.code, message=exc.message, client_event_id=exc.event_id)
        await self.emit(error_event(exc))

    async def item_added(self, previous_item_id: str | None, item: dict) -> None:
        """A conversation item is complete as soon as it is added (text, or a finished transcript)."""
        await self.emit(server_event("conversation.item.added", previous_item_id=previous_item_id, item=item))
        await self.emit(server_event("conversation.item.done", previous_item_id=previous_item_id, item=item))


def _log_fields(event: dict) -> dict:
    fields = {}
    for key in ("item_id", "response_id", "transcript", "audio_start_ms", "audio_end_ms"):
        if key in event:
            fields[key] = event[key]
    if event["type"] == "response.done":
        fields["status"] = event["response"]["status"]
    if event["type"] == "error":
        fields["code"] = event["error"]["code"]
    if event["type"].startswith("x_local."):
        fields.update({k: v for k, v in event.items() if k.endswith("_ms")})
    return fields
