"""One Realtime conversation behind one WebSocket.

`Session.run(incoming, send_text)` owns one task group: the outbox's writer (the only task that
sends on the socket), the turns and the responses. Each client message is parsed and handed to the
role that acts on it; leaving `run` (the client went away) cancels everything the session started.
The roles, in the order a caller turn flows through them: `listening` -> `turns` -> `responses`
(-> `speaking`) -> `outbox`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import structlog

from ..cpu import QUEUE_KEY
from ..runtime import Runtime
from ..speech.conversation import Conversation, Item
from .listening import Listener
from .outbox import Outbox
from .protocol import (
    AudioAppend,
    AudioClear,
    AudioCommit,
    ItemCreate,
    ProtocolError,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
    message_item,
    parse_client_event,
    server_event,
)
from .responses import Responses
from .state import SessionState
from .turns import Turns

log = structlog.get_logger("local_ai_server.session")


class Session:
    """One Realtime conversation; `run` serves it until the client goes away."""

    def __init__(self, runtime: Runtime, session_id: str | None = None, call_id: str | None = None) -> None:
        self.runtime = runtime
        self.call_id = call_id  # the client's (the engine's) call id, when it sent one
        self.settings = runtime.settings
        self.state = SessionState(runtime.settings, session_id)
        self.id = self.state.id
        limits = runtime.settings.limits
        self.conversation = Conversation(max_items=limits.max_items, max_chars=limits.max_conversation_chars)
        self.outbox = Outbox()

    async def run(self, incoming: AsyncIterator[str | bytes], send_text: Callable[[str], Awaitable[None]]) -> None:
        ids = {"session_id": self.id, **({"call_id": self.call_id} if self.call_id else {})}
        QUEUE_KEY.set(self.id)  # this session's model jobs queue fairly against other sessions'
        with structlog.contextvars.bound_contextvars(**ids):
            await self._serve(incoming, send_text)

    async def _serve(self, incoming: AsyncIterator[str | bytes], send_text: Callable[[str], Awaitable[None]]) -> None:
        log.info("session.started")
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.outbox.run, send_text, tg.cancel_scope)
                self.responses = Responses(tg, self.state, self.runtime, self.conversation, self.outbox)
                self.turns = Turns(tg, self.runtime, self.conversation, self.outbox, self.responses)
                self.listener = Listener(self.state, self.settings, self.conversation, self.outbox, self.turns,
                                         self.responses)
                await self.outbox.emit(server_event("session.created", session=self.state.wire()))
                async for message in incoming:
                    await self.handle_message(message)
                tg.cancel_scope.cancel()
        finally:
            log.info("session.ended")

    async def handle_message(self, message: str | bytes) -> None:
        try:
            event = parse_client_event(message, max_bytes=self.settings.server.max_message_bytes,
                                       input_format=self.state.input_format)
        except ProtocolError as exc:
            await self.outbox.error(exc)
            return
        if isinstance(event, AudioAppend):
            log.debug("event.in", type=event.type, bytes=len(event.audio))
        else:
            log.info("event.in", type=event.type, client_event_id=event.event_id)
        try:
            match event:
                case AudioAppend():
                    await self.listener.on_audio(event.audio)
                case SessionUpdate():
                    await self._update(event)
                case AudioClear():
                    await self._clear()
                case AudioCommit():
                    await self.listener.commit()
                case ResponseCreate():
                    await self.responses.create(event)
                case ResponseCancel():
                    await self.responses.cancel_requested(event.response_id)
                case ItemCreate():
                    await self._add_item(event)
        except ProtocolError as exc:
            exc.event_id = exc.event_id or event.event_id
            await self.outbox.error(exc)
        except Exception as exc:  # a bug must not end the call: report it and go on
            log.exception("session.event_failed", type=event.type)
            await self.outbox.error(ProtocolError("server_error", f"could not handle {event.type}: {exc}",
                                                  event_id=event.event_id, error_type="server_error"))

    async def _update(self, event: SessionUpdate) -> None:
        changes = self.state.apply(event.patch)
        self.listener.reconfigure(changes.input_format, changes.turn_detection)
        await self.outbox.emit(server_event("session.updated", session=self.state.wire()))
        if changes.instructions:
            self.responses.schedule_prefill()

    async def _clear(self) -> None:
        self.listener.reset()
        self.turns.interrupt_pending()
        await self.responses.cancel("client_cleared")
        await self.outbox.emit(server_event("input_audio_buffer.cleared"))

    async def _add_item(self, event: ItemCreate) -> None:
        limit = self.settings.limits.max_item_chars
        if len(event.text) > limit:
            raise ProtocolError("item_too_large", f"item text of {len(event.text)} characters exceeds the {limit} "
                                                  "character limit", param="item.content")
        item = Item(id=event.item_id, role=event.role, text=event.text, spoken=event.role != "assistant")
        previous = self.conversation.last_id
        self.conversation.add(item)
        await self.outbox.item_added(previous, message_item(item.id, item.role, item.text))
