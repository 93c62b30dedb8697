"""Listening: the caller's audio in, turns out.

Appended audio is decoded, resampled to 16 kHz and fed to the endpointer (server VAD); its events
become the protocol's `speech_started` / `speech_stopped` / `committed` and start turns. Without
turn detection the audio collects in the input buffer until the client commits it.
"""

from __future__ import annotations

import time

import anyio
import numpy as np
import structlog
from realtime_protocol import (
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    ProtocolError,
    new_id,
)

from .. import metrics
from ..config import Settings
from ..speech.audio import PROCESSING_RATE, StreamResampler, decode
from ..speech.conversation import Conversation
from ..speech.unfinished import PauseSilences, pause_silence_ms
from ..speech.vad import Endpointer, Paused, Resumed, SpeechStarted, SpeechStopped
from .limits import AudioRateLimit
from .outbox import Outbox
from .responses import Responses
from .state import SessionState
from .turns import Turns
from .units import Turn

log = structlog.get_logger("local_ai_server.session")


class Listener:
    def __init__(self, state: SessionState, settings: Settings, conversation: Conversation, outbox: Outbox,
                 turns: Turns, responses: Responses) -> None:
        self._state = state
        self._settings = settings
        self._conversation = conversation
        self._outbox = outbox
        self._turns = turns
        self._responses = responses
        self.endpointer = Endpointer(state.vad_params())
        self._resampler = StreamResampler(state.input_format.rate, PROCESSING_RATE)
        self._manual_buffer: list[np.ndarray] = []
        self._manual_samples = 0
        self._manual_full = False
        limits = settings.limits
        self._rate = AudioRateLimit(limits.audio_rate, limits.audio_burst_ms)
        self._speech_item_id: str | None = None
        self._speculative: Turn | None = None
        self._awaiting_transcript = False  # the current pause is held until the speculative transcript is in
        self._lock = anyio.Lock()  # VAD events from the audio and from a transcript arriving, one at a time

    def reconfigure(self, input_format: bool, turn_detection: bool) -> None:
        """After a `session.update`: a new input format or VAD forgets the turn in progress."""
        if input_format:
            self._resampler = StreamResampler(self._state.input_format.rate, PROCESSING_RATE)
        if turn_detection:
            self.endpointer.set_params(self._state.vad_params())
        if input_format or turn_detection:
            self.reset()

    def reset(self) -> None:
        self.endpointer.reset()
        self._manual_buffer.clear()
        self._manual_samples = 0
        self._manual_full = False
        self._drop_speculative()
        self._speech_item_id = None

    async def on_audio(self, data: bytes) -> None:
        samples = decode(data, self._state.input_format)
        if samples.size == 0:
            return
        limits = self._settings.limits
        if not self._rate.admit(samples.size * 1000 / self._state.input_format.rate):
            if not self._rate.report_due():
                return
            raise ProtocolError("input_audio_rate_exceeded",
                                f"audio arrives faster than {limits.audio_rate}x real time (after a "
                                f"{limits.audio_burst_ms} ms burst); audio is dropped until it slows down",
                                param="audio")
        audio_16k = self._resampler.process(samples)
        if self._state.turn_detection is None:
            max_samples = limits.max_input_buffer_ms * PROCESSING_RATE // 1000
            if self._manual_samples + audio_16k.size > max_samples:
                if self._manual_full:
                    return  # told once until the buffer is committed or cleared
                self._manual_full = True
                raise ProtocolError("input_audio_buffer_full",
                                    f"the input audio buffer holds at most {limits.max_input_buffer_ms} ms; "
                                    "commit or clear it", param="audio")
            self._manual_buffer.append(audio_16k)
            self._manual_samples += audio_16k.size
            return
        async with self._lock:
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

    async def commit(self) -> None:
        """`input_audio_buffer.commit`: end the turn in progress (VAD) or take the whole buffer."""
        if self._state.turn_detection is not None:
            async with self._lock:
                stopped = self.endpointer.force_stop()
                if stopped is None:
                    raise ProtocolError("input_audio_buffer_commit_empty",
                                        "no speech in the input audio buffer to commit")
                await self._on_speech_stopped(stopped)
            return
        if not self._manual_buffer:
            raise ProtocolError("input_audio_buffer_commit_empty", "the input audio buffer is empty")
        audio = np.concatenate(self._manual_buffer)
        self._manual_buffer.clear()
        self._manual_samples = 0
        self._manual_full = False
        if not self._turns.has_room():
            raise self._queue_full()
        item_id = new_id("item")
        await self._outbox.emit(InputAudioBufferCommitted(item_id, self._conversation.last_id))
        turn = Turn(item_id=item_id, audio=audio, voiced_ms=len(audio) * 1000 // PROCESSING_RATE,
                    end_of_speech=time.monotonic(), speculative=False, create_response=False)
        self._turns.start(turn)
        self._turns.commit(turn)

    async def _on_speech_started(self, event: SpeechStarted) -> None:
        self._speech_item_id = new_id("item")
        await self._outbox.emit(InputAudioBufferSpeechStarted(event.start_ms, self._speech_item_id))
        td = self._state.turn_detection
        if td is not None and td.interrupt_response:
            self._turns.interrupt_pending()
            await self._responses.cancel("turn_detected")

    def _on_paused(self, event: Paused) -> None:
        if self._speculative is not None and not self._speculative.failed:
            return
        if event.voiced_ms < self._settings.vad.min_speech_ms or not self._turns.has_room():
            return
        turn = Turn(item_id=self._speech_item_id or new_id("item"), audio=event.audio, voiced_ms=event.voiced_ms,
                    end_of_speech=self._wall_time(event.end_ms), speculative=True,
                    create_response=self._state.create_response)
        vad = self._settings.vad
        if vad.unfinished_hold_ms or vad.unclear_hold_ms or vad.finished_silence_ms:
            if vad.unfinished_hold_ms or vad.unclear_hold_ms:  # until the transcript says which
                self.endpointer.hold(max(vad.unfinished_hold_ms, vad.unclear_hold_ms))
            self._awaiting_transcript = True
            turn.on_transcribed = self._transcribed
        self._speculative = turn
        self._turns.start(turn)

    async def _transcribed(self, turn: Turn) -> None:
        """A pause's speculative transcript is in (`_on_paused` holds the pause until then: the
        answer needs that transcript anyway, so waiting for it costs nothing). The words set the
        silence that ends this pause (`speech.unfinished.pause_silence_ms`): if they sound
        unfinished ("and", "um", a number being read out) the hold stays; if they clearly ended (a
        whole question, or the semantic check's probability reached `vad.end_of_turn_probability`)
        the turn ends after `vad.finished_silence_ms`; a whole statement after the normal silence
        plus `vad.statement_hold_ms`; else after the normal silence plus `vad.unclear_hold_ms`.
        The turn ends now if the silence already ran that long: the speculative answer, already
        under way in this turn's task, is then the committed turn's answer."""
        async with self._lock:
            if turn is not self._speculative or not self._awaiting_transcript:
                return
            self._awaiting_transcript = False
            vad = self._settings.vad
            normal = self.endpointer.params.silence_duration_ms
            target = normal
            if not turn.failed and turn.transcript is not None:
                likely_end = turn.end_probability is not None and turn.end_probability >= vad.end_of_turn_probability
                silences = PauseSilences(normal, vad.finished_silence_ms, vad.unfinished_hold_ms,
                                         vad.unclear_hold_ms, vad.statement_hold_ms)
                target = pause_silence_ms(turn.transcript, silences, likely_end)
            if target > normal:
                metrics.TURN_HOLDS.inc()
                log.debug("turn.held", item_id=turn.item_id, transcript=turn.transcript, hold_ms=target - normal)
            elif target < normal:
                metrics.TURN_EARLY_ENDS.inc()
                log.debug("turn.ends_early", item_id=turn.item_id, transcript=turn.transcript, silence_ms=target,
                          end_probability=turn.end_probability)
            stopped = self.endpointer.release(target)
            if stopped is not None:
                await self._on_speech_stopped(stopped)

    def _drop_speculative(self) -> None:
        if self._speculative is not None:
            log.debug("turn.speculation_dropped", item_id=self._speculative.item_id)
            self._speculative.scope.cancel()
            self._speculative = None
        self._awaiting_transcript = False

    async def _on_speech_stopped(self, event: SpeechStopped) -> None:
        item_id = self._speech_item_id or new_id("item")
        self._speech_item_id = None
        metrics.TURNS_TOTAL.inc()
        turn = self._speculative
        self._speculative = None
        self._awaiting_transcript = False
        if turn is None or turn.failed:  # no early work, or it failed: the final turn starts afresh
            if not self._turns.has_room():  # told, and the rest of this audio still goes through the VAD
                await self._outbox.emit(InputAudioBufferSpeechStopped(event.end_ms, item_id))
                await self._outbox.error(self._queue_full())
                return
            turn = Turn(item_id=item_id, audio=event.audio, voiced_ms=event.voiced_ms,
                        end_of_speech=self._wall_time(event.end_ms), speculative=False,
                        create_response=self._state.create_response)
            self._turns.start(turn)
        turn.speech_stopped_at = time.monotonic()
        await self._outbox.emit(InputAudioBufferSpeechStopped(event.end_ms, item_id))
        await self._outbox.emit(InputAudioBufferCommitted(item_id, self._conversation.last_id))
        self._turns.commit(turn)

    def _queue_full(self) -> ProtocolError:
        limit = self._settings.limits.max_queued_turns
        return ProtocolError("turn_queue_full", f"{limit} turns of this session are still being processed; "
                                                "this turn is dropped", error_type="server_error")

    def _wall_time(self, audio_ms: int) -> float:
        """Monotonic time at which audio time `audio_ms` arrived (audio arrives in real time)."""
        return time.monotonic() - (self.endpointer.now_ms - audio_ms) / 1000
