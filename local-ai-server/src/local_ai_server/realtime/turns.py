"""Turns: a caller utterance (from the VAD or a commit) is transcribed, added to the conversation
and, usually, answered by a response.

A turn may start speculatively, while the end-of-turn silence is still running: its STT (and,
with `vad.speculative_response`, its response) runs early, but nothing of it is sent until the
turn is committed (`commit`), and it is dropped without a trace when the caller goes on speaking.
"""

from __future__ import annotations

import time

import anyio
import structlog
from anyio.abc import TaskGroup
from realtime_protocol import InputAudioTranscriptionCompleted, MessageItem, ProtocolError, XLocalTurnMetrics

from .. import metrics
from ..runtime import Runtime
from ..speech.audio import PROCESSING_RATE
from ..speech.conversation import Conversation, Item
from ..speech.text_pieces import has_words
from ..speech.unfinished import may_end_here
from .outbox import Outbox
from .responses import Responses
from .units import Response, Turn, innermost, ms_between

log = structlog.get_logger("local_ai_server.session")


class Turns:
    def __init__(self, tg: TaskGroup, runtime: Runtime, conversation: Conversation, outbox: Outbox,
                 responses: Responses) -> None:
        self._tg = tg
        self._runtime = runtime
        self._settings = runtime.settings
        self._conversation = conversation
        self._outbox = outbox
        self._responses = responses
        self._pending: list[Turn] = []  # committed, not yet answered
        self._running = 0  # turns in transcription or answer (speculative ones included)

    def has_room(self) -> bool:
        return self._running < self._settings.limits.max_queued_turns

    def start(self, turn: Turn) -> None:
        self._running += 1
        self._tg.start_soon(self._run, turn)

    def commit(self, turn: Turn) -> None:
        """The turn is final: its transcript (and response) may now go out."""
        turn.committed_at = time.monotonic()
        self._pending.append(turn)
        turn.committed.set()

    def interrupt_pending(self) -> None:
        """The caller spoke again (or cleared the buffer): committed turns still get their
        transcript, but no answer."""
        for turn in self._pending:
            turn.interrupted = True
            if turn.response is not None and not turn.response.active:
                turn.response.scope.cancel()

    async def _run(self, turn: Turn) -> None:
        try:
            with turn.scope:
                async with anyio.create_task_group() as tg:
                    await self._body(turn, tg)
                if turn.response is not None and turn.response.finished:
                    await self._emit_metrics(turn, turn.response)
        except Exception as exc:  # e.g. the STT failed: this turn is lost, the call goes on
            exc = innermost(exc)
            turn.failed = True
            if turn.on_transcribed is not None and not turn.committed.is_set():
                await turn.on_transcribed(turn)  # the pause waits no longer for this transcript
            log.error("turn.failed", item_id=turn.item_id, speculative=not turn.committed.is_set(),
                      error=f"{type(exc).__name__}: {exc}")
            if turn.committed.is_set():
                await self._outbox.error(ProtocolError("turn_failed", f"the turn could not be processed: {exc}",
                                                       error_type="server_error"))
        finally:
            self._running -= 1
            if turn in self._pending:
                self._pending.remove(turn)

    async def _body(self, turn: Turn, tg: TaskGroup) -> None:
        turn.stt_started = time.monotonic()
        if turn.voiced_ms < self._settings.vad.min_speech_ms:
            transcript = ""
        else:
            transcript = await self._runtime.transcribe(turn.audio)
        turn.stt_done = time.monotonic()
        turn.transcript = transcript
        wants_response = has_words(transcript) and turn.create_response
        speculate = wants_response and self._settings.vad.speculative_response and not turn.committed.is_set()
        user_item = Item(id=turn.item_id, role="user", text=transcript, from_audio=True)
        if speculate:
            # Run the LLM and TTS now; their output waits for the gate (set when the turn is final).
            turn.response = self._responses.for_turn(turn.end_of_speech, extra_user=user_item, gate=anyio.Event())
            tg.start_soon(self._responses.run, turn.response)
        if turn.on_transcribed is not None and not turn.committed.is_set():
            if self._settings.vad.end_of_turn_probability and may_end_here(transcript):
                turn.end_probability = await self._runtime.turn_end_probability(transcript)
            await turn.on_transcribed(turn)  # the listener: an unfinished one lengthens the pause
        await turn.committed.wait()
        turn.transcript_at = time.monotonic()
        metrics.TURN_TRANSCRIPT.observe(turn.transcript_at - turn.end_of_speech)
        log.info("turn.transcribed", item_id=turn.item_id, transcript=transcript,
                 audio_ms=len(turn.audio) * 1000 // PROCESSING_RATE,
                 stt_ms=ms_between(turn.stt_started, turn.stt_done), speculative=turn.speculative)
        await self._outbox.emit(InputAudioTranscriptionCompleted(turn.item_id, transcript))
        if has_words(transcript):
            previous = self._conversation.last_id
            self._conversation.add(user_item)
            await self._outbox.item_added(previous, MessageItem.of_text("user", transcript, user_item.id, audio=True))
        if not wants_response or turn.interrupted or self._responses.active is not None:
            if turn.response is not None:
                turn.response.scope.cancel()
                turn.response = None
            await self._emit_metrics(turn, None)
            return
        if turn.response is None:
            turn.response = self._responses.for_turn(turn.end_of_speech)
            tg.start_soon(self._responses.run, turn.response)
        await self._responses.activate(turn.response)
        turn.response.gate.set()
        if turn in self._pending:
            self._pending.remove(turn)

    async def _emit_metrics(self, turn: Turn, response: Response | None) -> None:
        eos = turn.end_of_speech
        if response is not None and response.first_audio_at is not None:
            metrics.TURN_FIRST_AUDIO.observe(response.first_audio_at - eos)
        stages = {
            "end_of_turn_wait_ms": ms_between(eos, turn.speech_stopped_at),
            "stt_ms": ms_between(turn.stt_started, turn.stt_done),
            "llm_first_token_ms": ms_between(response.requested_at, response.first_token_at) if response else None,
            "first_sentence_tts_ms": ms_between(response.first_piece_at, response.first_audio_at) if response else None,
        }
        for name, value in stages.items():
            if value is not None:
                metrics.TURN_STAGE.labels(name.removesuffix("_ms")).observe(max(0, value) / 1000)
        await self._outbox.emit(XLocalTurnMetrics(
            turn.item_id,
            response.id if response else None,
            ("cancelled" if response.cancelled else "completed") if response else "no_response",
            turn.speculative,
            {
                "audio_ms": len(turn.audio) * 1000 // PROCESSING_RATE,
                "stt_ms": ms_between(turn.stt_started, turn.stt_done),
                "speech_stopped_ms": ms_between(eos, turn.speech_stopped_at),
                "transcript_ms": ms_between(eos, turn.transcript_at),
                "first_token_ms": ms_between(eos, response.first_token_at) if response else None,
                "first_text_ms": ms_between(eos, response.first_piece_at) if response else None,
                "first_audio_ms": ms_between(eos, response.first_audio_at) if response else None,
                "llm_first_token_ms": stages["llm_first_token_ms"],
                "first_sentence_tts_ms": stages["first_sentence_tts_ms"],
            },
        ))
