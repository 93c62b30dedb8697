"""One Realtime conversation behind one WebSocket.

`Session.run(incoming, send_text)` owns one task group: the outbox's writer (the only task that
sends on the socket), the turns and the responses. Each client message is parsed and handed to the
role that acts on it; leaving `run` (the client went away) cancels everything the session started.
The roles, in the order a caller turn flows through them: `listening` -> `turns` -> `responses`
(-> `speaking`) -> `outbox`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import structlog
from realtime_protocol import (
    ConversationItemCreate,
    ConversationItemTruncate,
    ConversationItemTruncated,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    MessageItem,
    ProtocolError,
    ResponseCancel,
    ResponseCreate,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    new_id,
)
from voice_common.logs import bind_call

from ..cpu import QUEUE_KEY
from ..runtime import Runtime
from ..speech.conversation import Conversation, Item
from ..speech.tools import TOOL_ROLE
from .inbound import parse
from .listening import Listener
from .outbox import Outbox
from .responses import Responses
from .state import MODEL, SessionState
from .turns import Turns

log_name = "local_ai_server.session"
log = structlog.get_logger(log_name)


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
        self.outbox = Outbox(runtime.settings.server.send_timeout_s)
        # A dropped debug line still costs ~20 us through the shared (stdlib) log chain: decide once,
        # not on each of the 50 appends a second.
        self._log_appends = logging.getLogger(log_name).isEnabledFor(logging.DEBUG)

    async def run(self, incoming: AsyncIterator[str | bytes], send_text: Callable[[str], Awaitable[None]]) -> None:
        queue_key = QUEUE_KEY.set(self.id)  # this session's model jobs queue fairly against other sessions'
        try:
            with bind_call(self.call_id, session_id=self.id):  # on every log line of this session
                await self._serve(incoming, send_text)
        finally:
            QUEUE_KEY.reset(queue_key)

    async def _serve(self, incoming: AsyncIterator[str | bytes], send_text: Callable[[str], Awaitable[None]]) -> None:
        log.info("session.started")
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.outbox.run, send_text, tg.cancel_scope)
                self.responses = Responses(tg, self.state, self.runtime, self.conversation, self.outbox)
                self.turns = Turns(tg, self.runtime, self.conversation, self.outbox, self.responses)
                self.listener = Listener(self.state, self.settings, self.conversation, self.outbox, self.turns,
                                         self.responses)
                await self.outbox.emit(SessionCreated(self.state.wire(), self.id, MODEL))
                async for message in incoming:
                    await self.handle_message(message)
                tg.cancel_scope.cancel()
        finally:
            log.info("session.ended")

    async def handle_message(self, message: str | bytes) -> None:
        try:
            event = parse(message, max_bytes=self.settings.server.max_message_bytes,
                          input_format=self.state.input_format)
        except ProtocolError as exc:
            await self.outbox.error(exc)
            return
        if isinstance(event, InputAudioBufferAppend):
            if self._log_appends:
                log.debug("event.in", type=event.type, bytes=len(event.audio))
        else:
            log.info("event.in", type=event.type, client_event_id=event.event_id)
        try:
            match event:
                case InputAudioBufferAppend():
                    await self.listener.on_audio(event.audio)
                case SessionUpdate():
                    await self._update(event)
                case InputAudioBufferClear():
                    await self._clear()
                case InputAudioBufferCommit():
                    await self.listener.commit()
                case ResponseCreate():
                    await self.responses.create(event)
                case ResponseCancel():
                    await self.responses.cancel_requested(event.response_id)
                case ConversationItemCreate():
                    await self._add_item(event)
                case ConversationItemTruncate():
                    await self._truncate(event)
        except ProtocolError as exc:
            exc.event_id = exc.event_id or event.event_id
            await self.outbox.error(exc)
        except Exception as exc:  # a bug must not end the call: report it and go on
            log.exception("session.event_failed", type=event.type)
            await self.outbox.error(ProtocolError("server_error", f"could not handle {event.type}: {exc}",
                                                  event_id=event.event_id, error_type="server_error"))

    async def _update(self, event: SessionUpdate) -> None:
        patch = event.session
        if patch.turn_detection and patch.turn_detection.type != "server_vad":
            raise ProtocolError("invalid_session", f"turn_detection type {patch.turn_detection.type!r} is not "
                                "supported (server_vad)", param="session.audio.input.turn_detection.type")
        changes = self.state.apply(patch)
        self.listener.reconfigure(changes.input_format, changes.turn_detection)
        await self.outbox.emit(SessionUpdated(self.state.wire(), self.id, MODEL))
        if changes.instructions:
            self.responses.schedule_prefill()

    async def _clear(self) -> None:
        self.listener.reset()
        self.turns.interrupt_pending()
        await self.responses.cancel("client_cleared")
        await self.outbox.emit(InputAudioBufferCleared())

    async def _add_item(self, event: ConversationItemCreate) -> None:
        if not isinstance(event.item, MessageItem):
            await self._add_function_item(event.item)
            return
        text = event.item.text
        if not text:
            raise ProtocolError("invalid_item", "item text is empty", param="item.content")
        limit = self.settings.limits.max_item_chars
        if len(text) > limit:
            raise ProtocolError("item_too_large", f"item text of {len(text)} characters exceeds the {limit} "
                                                  "character limit", param="item.content")
        item = Item(id=event.item.id or new_id("item"), role=event.item.role, text=text,
                    spoken=event.item.role != "assistant")
        previous = self.conversation.last_id
        self.conversation.add(item)
        await self.outbox.item_added(previous, MessageItem.of_text(item.role, item.text, item.id))

    async def _add_function_item(self, given: FunctionCallItem | FunctionCallOutputItem) -> None:
        """A function's output (for a call of this conversation), or a call the client adds itself."""
        limits = self.settings.limits
        item_id = given.id or new_id("item")
        if isinstance(given, FunctionCallOutputItem):
            call = self.conversation.call(given.call_id)
            if call is None:
                raise ProtocolError("invalid_item", f"no function_call with call_id {given.call_id!r} in this "
                                    "conversation", param="item.call_id")
            if len(given.output) > limits.max_tool_output_chars:
                raise ProtocolError("item_too_large", f"function output of {len(given.output)} characters exceeds "
                                    f"the {limits.max_tool_output_chars} character limit", param="item.output")
            item = Item(id=item_id, role=TOOL_ROLE, text=given.output, kind="function_call_output",
                        call_id=given.call_id, name=call.name)
            wire = FunctionCallOutputItem(item_id, given.call_id, given.output)
        else:
            if len(given.arguments) > limits.max_item_chars:
                raise ProtocolError("item_too_large", f"function arguments of {len(given.arguments)} characters "
                                    f"exceed the {limits.max_item_chars} character limit", param="item.arguments")
            item = Item(id=item_id, role="assistant", text=given.arguments, kind="function_call",
                        call_id=given.call_id, name=given.name)
            wire = FunctionCallItem(item_id, given.call_id, given.name, given.arguments)
        previous = self.conversation.last_id
        self.conversation.add(item)
        await self.outbox.item_added(previous, wire)

    async def _truncate(self, event: ConversationItemTruncate) -> None:
        """The caller heard only `audio_end_ms` of an assistant item (barge-in). The item's text is
        kept whole: the server has no word timings to cut it by (the next prompt's history cuts
        long items anyway)."""
        if not any(i.id == event.item_id for i in self.conversation.items):
            raise ProtocolError("item_not_found", f"no item {event.item_id!r} in this conversation", param="item_id")
        await self.outbox.emit(ConversationItemTruncated(event.item_id, event.audio_end_ms, event.content_index))
