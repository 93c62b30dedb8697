"""Responses: at most one active spoken answer per session, from `response.created` to
`response.done` (completed, cancelled or failed).

When a turn's answer is activated and its first audio is predicted late (the server is loaded,
admission.py), the cached filler's transcript and audio are queued first, before any of the answer;
an answer predicted in time whose first piece is still not being synthesised when the bound comes
gets the filler then.

A response is created by a turn (`for_turn`) or by the client (`create`); `run` speaks it
(LLM -> text pieces -> TTS, in `speaking`) and reports its end. `cancel` ends the active one at
once: its queued deltas are dropped and `response.done` (cancelled) is the last thing sent of it.
"""

from __future__ import annotations

import time

import anyio
import structlog
from anyio.abc import TaskGroup
from realtime_protocol import (
    Error,
    MessageItem,
    ProtocolError,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    XLocalResponseMetrics,
    new_id,
)

from .. import metrics
from ..admission import WORK
from ..runtime import Runtime
from ..speech.audio import chunk_bytes
from ..speech.conversation import Conversation, Item, fit_prompt
from ..speech.tools import SAY, decision_options, prefix_for, render_output
from .calling import call_item, decide, write_call
from .outbox import OnSent, Outbox
from .prefill import Prefill
from .speaking import speak
from .state import SessionState
from .units import Response, innermost, ms_between

log = structlog.get_logger("local_ai_server.session")


class Responses:
    def __init__(self, tg: TaskGroup, state: SessionState, runtime: Runtime, conversation: Conversation,
                 outbox: Outbox) -> None:
        self._tg = tg
        self._state = state
        self._settings = runtime.settings
        self._runtime = runtime
        self._conversation = conversation
        self._outbox = outbox
        self._prefill = Prefill(tg, runtime, runtime.settings.llm.prefill)
        self.active: Response | None = None
        # A model without a chat template cannot be given tools: the session's tools are then
        # left out (told once in the log) and every answer is spoken, as without tools.
        self._tools_usable = getattr(runtime.models.llm, "supports_tools", True)
        self._told_no_tools = False

    # --- creating ------------------------------------------------------------------------------

    def prompt(self, instructions: str, extra_user: Item | None = None) -> list[dict]:
        llm = self._settings.llm
        conversation, results = self._conversation, ""
        if extra_user is not None:
            conversation = Conversation(items=[*conversation.items, extra_user])
        else:
            conversation, results = results_apart(conversation, llm.tool_output_chars)
        messages = conversation.chat_messages(instructions, llm.style_hint, llm.history_turns, llm.history_item_chars,
                                              tools_prompt=self._tools_prompt(),
                                              tool_output_chars=llm.tool_output_chars)
        if results:
            if messages and messages[0]["role"] == "system":
                messages[0] = {"role": "system", "content": messages[0]["content"] + "\n" + results}
            else:
                messages.insert(0, {"role": "system", "content": results})
        return fit_prompt(messages, llm.max_prompt_chars)

    def _tools_prompt(self) -> str:
        if self._state.tools and not self._tools_usable:
            if not self._told_no_tools:
                self._told_no_tools = True
                log.warning("session.tools_ignored", reason="the LLM has no chat template", tools=len(self._state.tools))
            return ""
        return self._state.tools_prompt()

    def _with_tools(self, response: Response, tool_choice: str | None = None, caller_spoke: bool = False) -> Response:
        """Give a response the session's tools: with them, it starts with the decision."""
        if self._state.tools and self._tools_usable:
            choice = tool_choice or self._state.tool_choice
            calls = 0 if caller_spoke else self._conversation.calls_in_a_row()
            if calls >= self._settings.llm.max_tool_calls_in_a_row:
                choice = "none"  # the model has called enough: now it speaks
            response.tools = self._state.tools
            response.options = decision_options(self._state.tools, choice)
        return response

    def for_turn(self, end_of_speech: float, extra_user: Item | None = None,
                 gate: anyio.Event | None = None) -> Response:
        """The answer to a caller turn (its output waits for `gate`, set when the turn is final)."""
        response = Response(id=new_id("resp"), item_id=new_id("item"), max_tokens=self._state.max_tokens,
                            messages=self.prompt(self._state.instructions, extra_user), gate=gate or anyio.Event(),
                            speculative=gate is not None)
        response.requested_at = end_of_speech
        return self._with_tools(response, caller_spoke=extra_user is not None)

    async def create(self, event: ResponseCreate) -> None:
        """`response.create`: speak the client's unspoken assistant item verbatim, or ask the LLM."""
        if self.active is not None:
            raise ProtocolError("conversation_already_has_active_response",
                                f"response {self.active.id} is still in progress; cancel it first")
        max_tokens = event.max_output_tokens or self._state.max_tokens
        unspoken = None if event.instructions is not None else self._conversation.unspoken_assistant_item()
        if unspoken is not None:
            unspoken.spoken = True
            response = Response(id=new_id("resp"), item_id=unspoken.id, text=unspoken.text, trigger=ResponseCreate.type)
        else:
            instructions = event.instructions if event.instructions is not None else self._state.instructions
            response = self._with_tools(Response(id=new_id("resp"), item_id=new_id("item"),
                                                 messages=self.prompt(instructions), max_tokens=max_tokens,
                                                 trigger=ResponseCreate.type), event.tool_choice)
        await self.activate(response)
        self._tg.start_soon(self._run_and_report, response)

    def schedule_prefill(self) -> None:
        llm = self._settings.llm
        messages = self._conversation.chat_messages(self._state.instructions, llm.style_hint, llm.history_turns,
                                                    llm.history_item_chars, upcoming=True,
                                                    tools_prompt=self._tools_prompt(),
                                                    tool_output_chars=llm.tool_output_chars)
        self._prefill.schedule(fit_prompt(messages, llm.max_prompt_chars))

    # --- running -------------------------------------------------------------------------------

    async def activate(self, response: Response) -> None:
        response.active = True
        self.active = response
        async with self._outbox.lifecycle:  # a cancel meanwhile sends response.done after these
            await self._outbox.emit(ResponseCreated(self._state.response_info(response.id)))
            if response.options is None:  # spoken for sure: its item now (else after the decision)
                await self._outbox.emit(ResponseOutputItemAdded(response.id, self._message_item(response)))
                response.announced = True
                if response.trigger == "turn":
                    await self._filler_if_late(response)

    async def _filler_if_late(self, response: Response) -> None:
        """Queue the filler ahead of the answer when its first audio is predicted past the bound;
        else watch the bound itself (`_filler_at_bound`): a prediction can be wrong."""
        admission = self._runtime.admission
        predicted = admission.filler_due(time.monotonic() - response.requested_at, response.work)
        if response.first_piece_synthesized.is_set():
            return
        if predicted is not None:
            await self._say_filler(response, "predicted", round(predicted * 1000))
        elif (bound_s := admission.filler_bound_s()) is not None:
            self._tg.start_soon(self._filler_at_bound, response, bound_s)

    async def _filler_at_bound(self, response: Response, bound_s: float) -> None:
        """At the bound after the end of speech, an answer whose first piece is not even being
        synthesised yet (the CPU queue served others first: more callers asked since, or the
        estimate was low) gets the filler now, rather than more silence."""
        with anyio.move_on_after(response.requested_at + bound_s - time.monotonic()):
            await response.first_piece_synthesized.wait()
            return
        if not response.finished and response.first_piece_at is None:
            await self._say_filler(response, "bound", round((time.monotonic() - response.requested_at) * 1000))

    async def _say_filler(self, response: Response, why: str, first_audio_ms: int) -> None:
        """The cached filler's transcript and audio, before any of the answer (`response.voice`)."""
        admission = self._runtime.admission
        async with response.voice:
            if response.finished or response.pieces or response.filler is not None:
                return
            fmt = self._state.output_format
            response.filler = admission.filler_text
            metrics.TURN_FILLERS.labels(why).inc()
            log.info("admission.filler", response_id=response.id, why=why, first_audio_ms=first_audio_ms,
                     on_the_way=admission.on_the_way, first_audio_cost_ms=round(admission.cost_s * 1000))
            emit = self._outbox.emit
            await emit(ResponseOutputAudioTranscriptDelta(response.id, response.item_id, delta=response.filler),
                       response.id)
            for part in chunk_bytes(admission.filler_audio(fmt), fmt.bytes_for_ms(self._settings.session.output_chunk_ms)):
                await emit(ResponseOutputAudioDelta(response.id, response.item_id, delta=part), response.id)

    @staticmethod
    def _message_item(response: Response) -> MessageItem:
        return MessageItem.of_text("assistant", "", response.item_id, audio=True, status="in_progress")

    async def run(self, response: Response) -> None:
        """Speak `response` to its end, or make it a function call (or until cancelled); a model
        failure fails the response only."""
        failure: BaseException | None = None
        admission = self._runtime.admission
        response.work = work = admission.begin(response.gate if response.speculative else None)
        WORK.set(work)  # this task's (and its children's) model jobs count towards its first audio
        with response.scope:
            try:
                slot = self._prefill.slot
                if response.text is None:
                    await self._prefill.wait()  # its context then holds most of this prompt
                    slot = self._prefill.slot
                if response.options is not None:
                    choice, slot = await decide(self._runtime, response, slot)
                    if choice != SAY:
                        slot = await write_call(self._runtime, response, choice,
                                                self._settings.llm.tool_arguments_max_tokens, self._emit_for, slot)
                    else:
                        await self._emit_for(response, ResponseOutputItemAdded(response.id,
                                                                               self._message_item(response)))
                        response.announced = True
                if response.tools and response.call_name is None:
                    response.prefix = prefix_for(SAY)
                if response.call_name is None:
                    slot = await speak(self._runtime, response, self._state.output_format, self._settings.tts,
                                       self._settings.session.output_chunk_ms, self._emit_for, prefer_slot=slot)
                if slot is not None:
                    self._prefill.slot = slot  # the next turn's prompt extends the one cached there
            except Exception as exc:  # a model failed: tell the client, keep the session
                log.exception("response.failed", response_id=response.id)
                failure = innermost(exc)
            finally:
                admission.end(work)
        if response.cancelled or (not response.active and response.scope.cancel_called):
            return
        if failure is not None and response.gate is not None:
            await response.gate.wait()  # a speculative response reports only once the turn is final
        await self._finish(response, "failed" if failure else "completed", failure)

    async def _run_and_report(self, response: Response) -> None:
        await self.run(response)
        if response.finished:
            await self._outbox.emit(XLocalResponseMetrics(
                response.id, response.status, response.trigger,
                first_token_ms=ms_between(response.requested_at, response.first_token_at),
                first_audio_ms=ms_between(response.requested_at, response.first_audio_at),
            ))

    async def _emit_for(self, response: Response, event: object, on_sent: OnSent | None = None) -> None:
        if response.gate is not None:
            await response.gate.wait()
        await self._outbox.emit(event, response.id, on_sent)

    async def cancel(self, reason: str) -> bool:
        response = self.active
        if response is None or response.finished:
            return False
        response.cancelled = True
        response.cancel_reason = reason
        self._outbox.drop_deltas_of(response.id)
        response.scope.cancel()
        await self._finish(response, "cancelled")
        return True

    async def cancel_requested(self, response_id: str | None) -> None:
        """`response.cancel` from the client."""
        if self.active is None or (response_id and response_id != self.active.id):
            raise ProtocolError("response_cancel_not_active", "there is no active response to cancel",
                                param="response_id")
        await self.cancel("client_cancelled")

    # --- ending --------------------------------------------------------------------------------

    async def _finish(self, response: Response, status: str, failure: BaseException | None = None) -> None:
        if response.finished:
            return
        response.finished = True
        response.status = status
        if self.active is response:
            self.active = None
        transcript = " ".join(response.pieces)  # what the model said (the filler is not its words)
        if response.call_name is not None:
            if status == "completed":
                self._conversation.add(Item(id=response.item_id, role="assistant", text=response.arguments,
                                            kind="function_call", call_id=response.call_id, name=response.call_name))
        elif response.text is None and transcript:  # verbatim text is already in the conversation
            self._conversation.add(Item(id=response.item_id, role="assistant", text=transcript))
        if response.filler is not None:
            transcript = f"{response.filler} {transcript}".rstrip()  # what the caller heard
        async with self._outbox.lifecycle:
            await self._send_end(response, status, transcript, failure)
        self.schedule_prefill()

    async def _send_end(self, response: Response, status: str, transcript: str,
                        failure: BaseException | None) -> None:
        emit = self._outbox.emit
        if failure is not None:
            await emit(Error.of(ProtocolError("response_failed", f"the response failed: {failure}",
                                              error_type="server_error")))
        item_status = "completed" if status == "completed" else "incomplete"
        if response.call_name is not None:
            item = call_item(response, item_status)
            if status == "completed":
                await emit(ResponseFunctionCallArgumentsDone(response.id, response.item_id, item.call_id, item.name,
                                                             item.arguments))
                await emit(ResponseOutputItemDone(response.id, item))
        else:
            item = MessageItem.of_text("assistant", transcript, response.item_id, audio=True, status=item_status)
            if status == "completed":
                if not response.announced:
                    await emit(ResponseOutputItemAdded(response.id, self._message_item(response)))
                await emit(ResponseOutputAudioDone(response.id, response.item_id))
                await emit(ResponseOutputAudioTranscriptDone(response.id, response.item_id, transcript=transcript))
                await emit(ResponseOutputItemDone(response.id, item))
        details = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": response.cancel_reason}
        elif status == "failed":
            details = {"type": "failed", "error": {"type": "server_error", "message": str(failure)}}
        metrics.RESPONSES_TOTAL.labels(status).inc()
        log.info("response.finished", response_id=response.id, status=status, transcript=transcript,
                 filler=response.filler is not None,
                 **({"call": response.call_name, "arguments": response.arguments} if response.call_name else {}))
        output = (item,) if response.announced or status == "completed" else ()
        await emit(ResponseDone(self._state.response_info(response.id, status=status, status_details=details,
                                                          output=output)))


def results_apart(conversation: Conversation, max_chars: int) -> tuple[Conversation, str]:
    """A reply to function outputs (the conversation ends with calls and their outputs) reads the
    outputs at the end of its system prompt, and those calls are left out of its dialogue: with
    its own call as the last assistant line, the bundled SmolLM2-135M repeated the call's query
    or its greeting instead of reading the result (bench knowledge_base, "answers"). Past turns'
    calls stay in the dialogue as before."""
    items = conversation.items
    start = len(items)
    while start > 0 and items[start - 1].kind in ("function_call", "function_call_output"):
        start -= 1
    outputs = [item for item in items[start:] if item.kind == "function_call_output"]
    if not outputs:
        return conversation, ""
    return Conversation(items=items[:start]), "\n".join(render_output(o.name, o.text, max_chars) for o in outputs)

