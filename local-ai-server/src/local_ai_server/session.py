"""One conversation: the state machine behind one Realtime WebSocket.

`Session.run(incoming, send_text)` owns one task group: the writer (the only task that sends on
the socket), the turns (STT, then a response) and the responses (LLM -> text pieces -> TTS).
Leaving `run` (the client went away) cancels everything the session started.

Ordering and cancellation rules:
- All server events go through one queue to the writer, so they leave in the order emitted.
- A response's audio/transcript deltas are tagged with its id; once the response is cancelled the
  writer drops any still queued, and `response.done` (cancelled) follows. Nothing of a cancelled
  response is sent after that.
- Speculative work (STT, and optionally the LLM/TTS) starts while the end-of-turn silence is still
  running. Its output is held back until the turn is final, and it is dropped without a trace when
  the caller goes on speaking.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import numpy as np
import structlog
from anyio.abc import TaskGroup

from . import metrics
from .audio import PROCESSING_RATE, AudioFormat, StreamResampler, decode
from .conversation import Conversation, Item
from .pipeline import speak
from .protocol import (
    UNSET,
    AudioAppend,
    AudioClear,
    AudioCommit,
    ItemCreate,
    ProtocolError,
    ResponseCancel,
    ResponseCreate,
    ResponseInfo,
    SessionUpdate,
    TurnDetection,
    error_event,
    message_item,
    new_id,
    parse_client_event,
    server_event,
)
from .runtime import Runtime
from .text_pieces import has_words
from .turn import Response, Turn, innermost, ms_between
from .vad import Endpointer, Paused, Resumed, SpeechStarted, SpeechStopped, VadParams

log = structlog.get_logger("local_ai_server.session")

DELTA_TYPES = ("response.output_audio.delta", "response.output_audio_transcript.delta")


class Session:
    """One Realtime conversation; `run` serves it until the client goes away."""

    def __init__(self, runtime: Runtime, session_id: str | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.id = session_id or new_id("sess")
        defaults = self.settings.session
        self.instructions = defaults.instructions
        self.voice = defaults.voice
        self.input_format = AudioFormat.from_wire(defaults.input_format)
        self.output_format = AudioFormat.from_wire(defaults.output_format)
        self.max_output_tokens: int | None = None
        self.turn_detection: TurnDetection | None = TurnDetection()
        self.conversation = Conversation()
        self.endpointer = Endpointer(self._vad_params())
        self._resampler = StreamResampler(self.input_format.rate, PROCESSING_RATE)
        self._manual_buffer: list[np.ndarray] = []
        self._speech_item_id: str | None = None
        self._speculative: Turn | None = None
        self._pending_turns: list[Turn] = []
        self.response: Response | None = None
        self._cancelled: set[str] = set()
        self._llm_slot: int | None = None
        self._out_send, self._out_recv = anyio.create_memory_object_stream[tuple](max_buffer_size=1024)
        self._lifecycle = anyio.Lock()  # keeps each response's opening and closing events in order
        self._prefill_scope: anyio.CancelScope | None = None
        self._prefill_done: anyio.Event | None = None
        self._tg: TaskGroup | None = None

    # --- running -------------------------------------------------------------------------------

    async def run(self, incoming: AsyncIterator[str | bytes], send_text: Callable[[str], Awaitable[None]]) -> None:
        structlog.contextvars.bind_contextvars(session_id=self.id)
        log.info("session.started")
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._writer, send_text, tg.cancel_scope)
                await self._emit(server_event("session.created", session=self._session_wire()))
                async for message in incoming:
                    await self.handle_message(message)
                tg.cancel_scope.cancel()
        finally:
            log.info("session.ended")

    async def _writer(self, send_text: Callable[[str], Awaitable[None]], scope: anyio.CancelScope) -> None:
        async with self._out_recv:
            async for event, response_id, on_sent in self._out_recv:
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

    async def _emit(
        self, event: dict, response_id: str | None = None, on_sent: Callable[[], None] | None = None
    ) -> None:
        if event["type"] not in DELTA_TYPES:
            log.info("event.out", type=event["type"], **_log_fields(event))
        await self._out_send.send((event, response_id, on_sent))

    async def _emit_error(self, exc: ProtocolError) -> None:
        metrics.ERRORS_TOTAL.labels(exc.code).inc()
        log.warning("client.error", code=exc.code, message=exc.message, client_event_id=exc.event_id)
        await self._emit(error_event(exc))

    # --- client events -------------------------------------------------------------------------

    async def handle_message(self, message: str | bytes) -> None:
        try:
            event = parse_client_event(
                message, max_bytes=self.settings.server.max_message_bytes, input_format=self.input_format
            )
        except ProtocolError as exc:
            await self._emit_error(exc)
            return
        if isinstance(event, AudioAppend):
            log.debug("event.in", type=event.type, bytes=len(event.audio))
        else:
            log.info("event.in", type=event.type, client_event_id=event.event_id)
        try:
            match event:
                case AudioAppend():
                    await self._on_audio(event.audio)
                case SessionUpdate():
                    await self._on_session_update(event)
                case AudioClear():
                    await self._on_clear()
                case AudioCommit():
                    await self._on_commit(event)
                case ResponseCreate():
                    await self._on_response_create(event)
                case ResponseCancel():
                    await self._on_response_cancel(event)
                case ItemCreate():
                    await self._on_item_create(event)
        except ProtocolError as exc:
            exc.event_id = exc.event_id or event.event_id
            await self._emit_error(exc)
        except Exception as exc:  # a bug must not end the call: report it and go on
            log.exception("session.event_failed", type=event.type)
            await self._emit_error(ProtocolError("server_error", f"could not handle {event.type}: {exc}",
                                                 event_id=event.event_id, error_type="server_error"))

    async def _on_session_update(self, event: SessionUpdate) -> None:
        patch = event.patch
        if patch.instructions is not UNSET:
            self.instructions = patch.instructions
        if patch.voice is not UNSET:
            self.voice = patch.voice
        if patch.max_output_tokens is not UNSET:
            self.max_output_tokens = patch.max_output_tokens
        if patch.output_format is not UNSET:
            self.output_format = patch.output_format
        if patch.input_format is not UNSET and patch.input_format != self.input_format:
            self.input_format = patch.input_format
            self._resampler = StreamResampler(self.input_format.rate, PROCESSING_RATE)
            self._reset_input()
        if patch.turn_detection is not UNSET:
            self.turn_detection = patch.turn_detection
            self.endpointer.set_params(self._vad_params())
            self._reset_input()
        await self._emit(server_event("session.updated", session=self._session_wire()))
        if patch.instructions is not UNSET:
            self._schedule_prefill()

    def _reset_input(self) -> None:
        self.endpointer.reset()
        self._manual_buffer.clear()
        self._drop_speculative()
        self._speech_item_id = None

    async def _on_audio(self, data: bytes) -> None:
        samples = decode(data, self.input_format)
        if samples.size == 0:
            return
        audio_16k = self._resampler.process(samples)
        if self.turn_detection is None:
            self._manual_buffer.append(audio_16k)
            return
        for vad_event in self.endpointer.feed(audio_16k):
            match vad_event:
                case SpeechStarted():
                    await self._on_speech_started(vad_event)
                case Paused():
                    self._on_paused(vad_event)
                case Resumed():
                    self._drop_speculative()
                case SpeechStopped():
                    await self._on_speech_stopped(vad_event)

    async def _on_clear(self) -> None:
        self._reset_input()
        self._interrupt_pending_turns()
        await self._cancel_response("client_cleared")
        await self._emit(server_event("input_audio_buffer.cleared"))

    async def _on_commit(self, event: AudioCommit) -> None:
        if self.turn_detection is not None:
            stopped = self.endpointer.force_stop()
            if stopped is None:
                raise ProtocolError("input_audio_buffer_commit_empty", "no speech in the input audio buffer to commit")
            await self._on_speech_stopped(stopped)
            return
        if not self._manual_buffer:
            raise ProtocolError("input_audio_buffer_commit_empty", "the input audio buffer is empty")
        audio = np.concatenate(self._manual_buffer)
        self._manual_buffer.clear()
        item_id = new_id("item")
        await self._emit(server_event("input_audio_buffer.committed", item_id=item_id,
                                      previous_item_id=self.conversation.last_id))
        turn = Turn(item_id=item_id, audio=audio, voiced_ms=len(audio) * 1000 // PROCESSING_RATE,
                    end_of_speech=time.monotonic(), speculative=False, create_response=False)
        self._start_turn(turn)
        self._commit(turn)

    async def _on_item_create(self, event: ItemCreate) -> None:
        item = Item(id=event.item_id, role=event.role, text=event.text, spoken=event.role != "assistant")
        previous = self.conversation.last_id
        self.conversation.add(item)
        wire = message_item(item.id, item.role, item.text)
        await self._emit(server_event("conversation.item.added", previous_item_id=previous, item=wire))
        await self._emit(server_event("conversation.item.done", previous_item_id=previous, item=wire))

    async def _on_response_create(self, event: ResponseCreate) -> None:
        if self.response is not None:
            raise ProtocolError("conversation_already_has_active_response",
                                f"response {self.response.id} is still in progress; cancel it first")
        max_tokens = event.max_output_tokens or self.max_output_tokens or self.settings.llm.max_tokens
        unspoken = None if event.instructions is not None else self.conversation.unspoken_assistant_item()
        if unspoken is not None:
            unspoken.spoken = True
            response = Response(id=new_id("resp"), item_id=unspoken.id, text=unspoken.text, trigger="response.create")
        else:
            instructions = event.instructions if event.instructions is not None else self.instructions
            response = Response(id=new_id("resp"), item_id=new_id("item"), messages=self._prompt(instructions),
                                max_tokens=max_tokens, trigger="response.create")
        await self._activate(response)
        self._tg.start_soon(self._run_response, response)

    async def _on_response_cancel(self, event: ResponseCancel) -> None:
        if self.response is None or (event.response_id and event.response_id != self.response.id):
            raise ProtocolError("response_cancel_not_active", "there is no active response to cancel",
                                param="response_id")
        await self._cancel_response("client_cancelled")

    # --- turns ---------------------------------------------------------------------------------

    async def _on_speech_started(self, event: SpeechStarted) -> None:
        self._speech_item_id = new_id("item")
        await self._emit(server_event("input_audio_buffer.speech_started", audio_start_ms=event.start_ms,
                                      item_id=self._speech_item_id))
        td = self.turn_detection
        if td is not None and td.interrupt_response:
            self._interrupt_pending_turns()
            await self._cancel_response("turn_detected")

    def _on_paused(self, event: Paused) -> None:
        if self._speculative is not None or event.voiced_ms < self.settings.vad.min_speech_ms:
            return
        turn = Turn(item_id=self._speech_item_id or new_id("item"), audio=event.audio, voiced_ms=event.voiced_ms,
                    end_of_speech=self._wall_time(event.end_ms), speculative=True,
                    create_response=self.turn_detection.create_response)
        self._speculative = turn
        self._start_turn(turn)

    def _drop_speculative(self) -> None:
        if self._speculative is not None:
            log.debug("turn.speculation_dropped", item_id=self._speculative.item_id)
            self._speculative.scope.cancel()
            self._speculative = None

    async def _on_speech_stopped(self, event: SpeechStopped) -> None:
        item_id = self._speech_item_id or new_id("item")
        self._speech_item_id = None
        metrics.TURNS_TOTAL.inc()
        turn = self._speculative
        self._speculative = None
        if turn is None:
            turn = Turn(item_id=item_id, audio=event.audio, voiced_ms=event.voiced_ms,
                        end_of_speech=self._wall_time(event.end_ms), speculative=False,
                        create_response=self.turn_detection.create_response if self.turn_detection else False)
            self._start_turn(turn)
        turn.speech_stopped_at = time.monotonic()
        await self._emit(server_event("input_audio_buffer.speech_stopped", audio_end_ms=event.end_ms, item_id=item_id))
        await self._emit(server_event("input_audio_buffer.committed", item_id=item_id,
                                      previous_item_id=self.conversation.last_id))
        self._commit(turn)

    def _wall_time(self, audio_ms: int) -> float:
        """Monotonic time at which audio time `audio_ms` arrived (audio arrives in real time)."""
        return time.monotonic() - (self.endpointer.now_ms - audio_ms) / 1000

    def _start_turn(self, turn: Turn) -> None:
        self._tg.start_soon(self._run_turn, turn)

    def _commit(self, turn: Turn) -> None:
        turn.committed_at = time.monotonic()
        self._pending_turns.append(turn)
        turn.committed.set()

    def _interrupt_pending_turns(self) -> None:
        for turn in self._pending_turns:
            turn.interrupted = True
            if turn.response is not None and not turn.response.active:
                turn.response.scope.cancel()

    async def _run_turn(self, turn: Turn) -> None:
        try:
            with turn.scope:
                async with anyio.create_task_group() as tg:
                    await self._turn_body(turn, tg)
        except Exception as exc:  # e.g. the STT failed: this turn is lost, the call goes on
            exc = innermost(exc)
            log.error("turn.failed", item_id=turn.item_id, speculative=not turn.committed.is_set(),
                      error=f"{type(exc).__name__}: {exc}")
            if self._speculative is turn:  # early work failed: the final turn starts afresh
                self._speculative = None
            elif turn.committed.is_set():
                await self._emit_error(ProtocolError("turn_failed", f"the turn could not be processed: {exc}",
                                                     error_type="server_error"))
        finally:
            if turn in self._pending_turns:
                self._pending_turns.remove(turn)

    async def _turn_body(self, turn: Turn, tg: TaskGroup) -> None:
        turn.stt_started = time.monotonic()
        if turn.voiced_ms < self.settings.vad.min_speech_ms:
            transcript = ""
        else:
            transcript = await self.runtime.transcribe(turn.audio)
        turn.stt_done = time.monotonic()
        wants_response = has_words(transcript) and turn.create_response
        speculate = wants_response and self.settings.vad.speculative_response and not turn.committed.is_set()
        user_item = Item(id=turn.item_id, role="user", text=transcript, from_audio=True)
        if speculate:
            # Run the LLM and TTS now; their output waits for the gate (set when the turn is final).
            turn.response = self._turn_response(turn, extra_user=user_item, gate=anyio.Event())
            tg.start_soon(self._run_response, turn.response)
        await turn.committed.wait()
        turn.transcript_at = time.monotonic()
        metrics.TURN_TRANSCRIPT.observe(turn.transcript_at - turn.end_of_speech)
        log.info("turn.transcribed", item_id=turn.item_id, transcript=transcript,
                 audio_ms=len(turn.audio) * 1000 // PROCESSING_RATE,
                 stt_ms=ms_between(turn.stt_started, turn.stt_done), speculative=turn.speculative)
        await self._emit(server_event("conversation.item.input_audio_transcription.completed",
                                      item_id=turn.item_id, content_index=0, transcript=transcript))
        if has_words(transcript):
            previous = self.conversation.last_id
            self.conversation.add(user_item)
            wire = message_item(user_item.id, "user", transcript, audio=True)
            await self._emit(server_event("conversation.item.added", previous_item_id=previous, item=wire))
            await self._emit(server_event("conversation.item.done", previous_item_id=previous, item=wire))
        if not wants_response or turn.interrupted or self.response is not None:
            if turn.response is not None:
                turn.response.scope.cancel()
            await self._emit_turn_metrics(turn, None)
            return
        if turn.response is None:
            turn.response = self._turn_response(turn)
            tg.start_soon(self._run_response, turn.response)
        await self._activate(turn.response)
        turn.response.gate.set()
        if turn in self._pending_turns:
            self._pending_turns.remove(turn)

    def _turn_response(self, turn: Turn, extra_user: Item | None = None, gate: anyio.Event | None = None) -> Response:
        response = Response(id=new_id("resp"), item_id=new_id("item"), max_tokens=self._max_tokens(),
                            messages=self._prompt(self.instructions, extra_user), gate=gate or anyio.Event(),
                            turn=turn)
        response.requested_at = turn.end_of_speech
        return response

    def _prompt(self, instructions: str, extra_user: Item | None = None) -> list[dict]:
        llm = self.settings.llm
        conversation = self.conversation
        if extra_user is not None:
            conversation = Conversation(items=[*self.conversation.items, extra_user])
        return conversation.chat_messages(instructions, llm.style_hint, llm.history_turns, llm.history_item_chars)

    def _schedule_prefill(self) -> None:
        """Warm this session's LLM context with the prompt the next turn will extend (runs while
        the caller speaks; replaces any prefill still waiting)."""
        if not self.settings.llm.prefill or self._tg is None:
            return
        if self._prefill_scope is not None:
            self._prefill_scope.cancel()
        scope = self._prefill_scope = anyio.CancelScope()
        done = self._prefill_done = anyio.Event()
        llm = self.settings.llm
        messages = self.conversation.chat_messages(self.instructions, llm.style_hint, llm.history_turns,
                                                   llm.history_item_chars, upcoming=True)

        async def prefill() -> None:
            try:
                with scope:
                    self._llm_slot = await self.runtime.prefill(messages, prefer_slot=self._llm_slot)
            except Exception as exc:  # only an optimisation: never the call's problem
                log.warning("llm.prefill_failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                done.set()

        self._tg.start_soon(prefill)

    def _max_tokens(self) -> int:
        return self.max_output_tokens or self.settings.llm.max_tokens

    # --- responses -----------------------------------------------------------------------------

    async def _activate(self, response: Response) -> None:
        response.active = True
        self.response = response
        info = ResponseInfo(id=response.id)
        item = message_item(response.item_id, "assistant", "", status="in_progress", audio=True)
        async with self._lifecycle:  # a cancel meanwhile sends response.done after these
            await self._emit(server_event("response.created", response=info.to_wire(self.output_format, self.voice)))
            await self._emit(server_event("response.output_item.added", response_id=response.id, output_index=0,
                                          item=item))

    async def _emit_for(self, response: Response, event: dict, on_sent: Callable[[], None] | None = None) -> None:
        if response.gate is not None:
            await response.gate.wait()
        await self._emit(event, response.id, on_sent)

    async def _run_response(self, response: Response) -> None:
        failure: BaseException | None = None
        with response.scope:
            try:
                if response.text is None and self._prefill_done is not None:
                    await self._prefill_done.wait()  # its context then holds most of this prompt
                slot = await speak(self.runtime, response, self.output_format, self.settings.tts,
                                   self.settings.session.output_chunk_ms, self._emit_for, prefer_slot=self._llm_slot)
                if slot is not None:
                    self._llm_slot = slot  # the next turn's prompt extends the one cached there
            except Exception as exc:  # a model failed: tell the client, keep the session
                log.exception("response.failed", response_id=response.id)
                failure = innermost(exc)
        if response.cancelled or (not response.active and response.scope.cancel_called):
            return
        if failure is not None and response.gate is not None:
            await response.gate.wait()  # a speculative response reports only once the turn is final
        await self._finish_response(response, "failed" if failure else "completed", failure)

    async def _finish_response(self, response: Response, status: str, failure: BaseException | None = None) -> None:
        if response.finished:
            return
        response.finished = True
        if self.response is response:
            self.response = None
        transcript = " ".join(response.pieces)
        self._record_assistant(response, transcript)
        async with self._lifecycle:
            await self._send_response_end(response, status, transcript, failure)
        self._schedule_prefill()

    async def _send_response_end(self, response: Response, status: str, transcript: str,
                                 failure: BaseException | None) -> None:
        if failure is not None:
            await self._emit(error_event(ProtocolError("response_failed", f"the response failed: {failure}",
                                                       error_type="server_error")))
        if status == "completed":
            ids = {"response_id": response.id, "item_id": response.item_id, "output_index": 0, "content_index": 0}
            await self._emit(server_event("response.output_audio.done", **ids))
            await self._emit(server_event("response.output_audio_transcript.done", transcript=transcript, **ids))
        item = message_item(response.item_id, "assistant", transcript,
                            status="completed" if status == "completed" else "incomplete", audio=True)
        if status == "completed":
            await self._emit(server_event("response.output_item.done", response_id=response.id, output_index=0,
                                          item=item))
        details = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": response.cancel_reason}
        elif status == "failed":
            details = {"type": "failed", "error": {"type": "server_error", "message": str(failure)}}
        info = ResponseInfo(id=response.id, status=status, status_details=details, output=[item])
        metrics.RESPONSES_TOTAL.labels(status).inc()
        log.info("response.finished", response_id=response.id, status=status, transcript=transcript)
        await self._emit(server_event("response.done", response=info.to_wire(self.output_format, self.voice)))
        if response.turn is not None:
            await self._emit_turn_metrics(response.turn, response)
        else:
            await self._emit(server_event(
                "x_local.response.metrics", response_id=response.id, status=status, trigger=response.trigger,
                first_token_ms=ms_between(response.requested_at, response.first_token_at),
                first_audio_ms=ms_between(response.requested_at, response.first_audio_at),
            ))

    def _record_assistant(self, response: Response, transcript: str) -> None:
        if response.text is not None:  # verbatim: the item is already in the conversation
            return
        if transcript:
            self.conversation.add(Item(id=response.item_id, role="assistant", text=transcript))

    async def _cancel_response(self, reason: str) -> bool:
        response = self.response
        if response is None or response.finished:
            return False
        response.cancelled = True
        response.cancel_reason = reason
        self._cancelled.add(response.id)
        response.scope.cancel()
        await self._finish_response(response, "cancelled")
        return True

    async def _emit_turn_metrics(self, turn: Turn, response: Response | None) -> None:
        eos = turn.end_of_speech
        if response is not None and response.first_audio_at is not None:
            metrics.TURN_FIRST_AUDIO.observe(response.first_audio_at - eos)
        await self._emit(server_event(
            "x_local.turn.metrics",
            item_id=turn.item_id,
            response_id=response.id if response else None,
            status=("cancelled" if response.cancelled else "completed") if response else "no_response",
            speculative=turn.speculative,
            audio_ms=len(turn.audio) * 1000 // PROCESSING_RATE,
            stt_ms=ms_between(turn.stt_started, turn.stt_done),
            speech_stopped_ms=ms_between(eos, turn.speech_stopped_at),
            transcript_ms=ms_between(eos, turn.transcript_at),
            first_token_ms=ms_between(eos, response.first_token_at) if response else None,
            first_text_ms=ms_between(eos, response.first_piece_at) if response else None,
            first_audio_ms=ms_between(eos, response.first_audio_at) if response else None,
        ))

    # --- wire views ----------------------------------------------------------------------------

    def _vad_params(self) -> VadParams:
        vad = self.settings.vad
        td = self.turn_detection or TurnDetection()
        aggressiveness = vad.aggressiveness if td.threshold is None else min(3, int(td.threshold * 4))
        return VadParams(
            aggressiveness=aggressiveness,
            energy_floor_dbfs=vad.energy_floor_dbfs,
            silence_duration_ms=td.silence_duration_ms or vad.silence_duration_ms,
            prefix_padding_ms=td.prefix_padding_ms if td.prefix_padding_ms is not None else vad.prefix_padding_ms,
            start_speech_ms=vad.start_speech_ms,
            start_window_ms=vad.start_window_ms,
            max_turn_ms=vad.max_turn_ms,
            speculative_after_ms=vad.speculative_after_ms,
        )

    def _session_wire(self) -> dict:
        td = None
        if self.turn_detection is not None:
            p = self.endpointer.params
            td = {
                "type": "server_vad",
                "threshold": self.turn_detection.threshold if self.turn_detection.threshold is not None
                else round(p.aggressiveness / 4 + 0.125, 3),
                "prefix_padding_ms": p.prefix_padding_ms,
                "silence_duration_ms": p.silence_duration_ms,
                "create_response": self.turn_detection.create_response,
                "interrupt_response": self.turn_detection.interrupt_response,
            }
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.id,
            "model": "local-ai-server",
            "output_modalities": ["audio"],
            "instructions": self.instructions,
            "max_output_tokens": self.max_output_tokens or "inf",
            "audio": {
                "input": {
                    "format": self.input_format.to_wire(),
                    "transcription": {"model": "whisper"},
                    "turn_detection": td,
                },
                "output": {"format": self.output_format.to_wire(), "voice": self.voice},
            },
        }


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
