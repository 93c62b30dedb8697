"""OpenAI Realtime API (GA), sans-IO: the client events we send, and server events mapped onto
the engine's provider events. Every event is spelled once, in the shared `realtime_protocol`
package (`rp`); this module only decides what they mean for a phone call. `session.py` is the edge.

  we send                      | when
  -----------------------------+-----------------------------------------------------------
  session.update               | after session.created: type realtime, instructions,
                               | audio.input {format, transcription {model, language},
                               | turn_detection server_vad|semantic_vad}, audio.output
                               | {format, voice}. Never `model` (fixed by the URL).
  input_audio_buffer.append    | caller audio (base64 audio/pcmu or audio/pcm 24 kHz)
  response.create              | the greeting: response.instructions ask for the text verbatim
  response.cancel              | our barge-in, while a reply is in progress
  conversation.item.truncate   | our barge-in: the reply's audio item cut at what the caller heard
  conversation.item.create     | a tool's result: a function_call_output item (then
                               | response.create when the model should go on talking)

  server event                                       | maps to
  ---------------------------------------------------+-------------------------------------
  session.created                                    | (session.update may go)
  input_audio_buffer.speech_started / speech_stopped | SpeechStarted / SpeechStopped
  conversation.item.input_audio_transcription.completed | Transcript(caller)
  response.created                                   | ResponseStarted
  response.output_audio.delta                        | AgentAudio (not of a cancelled reply)
  response.output_audio_transcript.delta             | AgentText
  response.function_call_arguments.done              | ToolCall (session.update offered `tools`)
  response.done                                      | ResponseDone (+ ProviderError if failed)
  error                                              | ProviderError; Fatal for a refused key,
                                                     | a rate limit, an expired session
  rate_limits.updated                                | ProviderError (warning) when exhausted
  anything else                                      | ignored
"""

from __future__ import annotations

from dataclasses import dataclass

import realtime_protocol as rp

from ...tools.base import ToolSpec
from .. import base
from ..realtime_tools import tool_config, tool_result, user_text
from ..ws_edge import ulaw_decode, ulaw_encode

PCMU = rp.AudioFormat("pcmu", rp.G711_RATE)
PCM24 = rp.AudioFormat("pcm", 24000)  # the only audio/pcm rate OpenAI accepts
BENIGN_ERRORS = {"response_cancel_not_active"}  # our cancel crossed the server's own
REFUSED_ERRORS = {"invalid_api_key", "authentication_error", "insufficient_quota"}
FATAL_ERRORS = {"rate_limit_exceeded", "session_expired"}


@dataclass(frozen=True, slots=True)
class SessionCreated:
    session_id: str


@dataclass(frozen=True, slots=True)
class Fatal:
    reason: str
    rejected: bool = False


Event = base.ProviderEvent | SessionCreated | Fatal


@dataclass(frozen=True, slots=True)
class RealtimeConfig:
    instructions: str
    voice: str
    audio_format: str  # pcmu | pcm24
    turn_detection: str  # server_vad | semantic_vad
    vad_threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    eagerness: str
    transcription_model: str
    language: str | None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"  # the persona's: auto | none | required (OpenAI's session tool_choice)


def session_update(config: RealtimeConfig) -> str:
    fmt = PCMU if config.audio_format == "pcmu" else PCM24
    if config.turn_detection == "semantic_vad":
        turn = rp.TurnDetection(type="semantic_vad", eagerness=config.eagerness)  # type: ignore[arg-type]
    else:
        turn = rp.TurnDetection(
            threshold=config.vad_threshold,
            prefix_padding_ms=config.prefix_padding_ms,
            silence_duration_ms=config.silence_duration_ms,
        )
    session = rp.SessionConfig(
        instructions=config.instructions,
        voice=config.voice,
        input_format=fmt,
        output_format=fmt,
        turn_detection=turn,
        transcription=rp.Transcription(config.transcription_model, config.language),
        **tool_config(config.tools, config.tool_choice),
    )
    return rp.serialize(rp.SessionUpdate(session))


def greeting(text: str) -> str:
    """response.create with instructions for this one reply: the model says the text as written
    (an assistant item plus response.create would make it write a new reply instead)."""
    return rp.serialize(rp.ResponseCreate(instructions=f"Say exactly the following, word for word, and nothing else: {text}"))


class RealtimeProtocol:
    """State of one Realtime session: the reply in progress (and the ones we cancelled, in
    `rp.ClientConnection`), the audio item of the last reply and how much of it we delivered."""

    def __init__(self, audio_format: str, max_bytes: int = 4 * 1024 * 1024):
        self.pcmu = audio_format == "pcmu"
        self.rate = (PCMU if self.pcmu else PCM24).rate
        self._conn = rp.ClientConnection(max_bytes=max_bytes)
        self.item_id: str | None = None  # the audio item of the last reply that sent audio
        self.delivered_ms = 0.0  # of that item

    @property
    def reply(self) -> str | None:
        return self._conn.current_response

    def encode_audio(self, pcm: bytes) -> str:
        return rp.append_message(ulaw_encode(pcm) if self.pcmu else pcm)

    def cancel(self) -> tuple[list[str], str | None]:
        """Our barge-in: (messages to send, the item to truncate); the reply's audio stops here."""
        messages = [self._conn.send(rp.ResponseCancel())] if self._conn.current_response is not None else []
        item, self.item_id = self.item_id, None
        return messages, item

    def user_text(self, text: str) -> list[str]:
        return [self._conn.send(event) for event in user_text(text)]

    def tool_result(self, call_id: str, output: str, respond: bool, tool_choice: str = "auto") -> list[str]:
        return [self._conn.send(event) for event in tool_result(call_id, output, respond, tool_choice)]

    def truncate(self, item_id: str, audio_end_ms: int) -> str:
        return self._conn.send(rp.ConversationItemTruncate(item_id, audio_end_ms))

    def receive(self, raw: str | bytes) -> list[Event]:
        try:
            event = self._conn.receive(raw)
        except rp.ProtocolError as exc:
            return [base.ProviderError(f"bad server event: {exc}")]
        match event:
            case rp.SessionCreated():
                return [SessionCreated(event.id)]
            case rp.InputAudioBufferSpeechStarted():
                return [base.SpeechStarted()]
            case rp.InputAudioBufferSpeechStopped():
                return [base.SpeechStopped()]
            case rp.InputAudioTranscriptionCompleted():
                return [base.Transcript("caller", event.transcript)]
            case rp.ResponseCreated():
                return [base.ResponseStarted(event.response.id)]
            case rp.ResponseOutputAudioDelta():
                return self._audio(event)
            case rp.ResponseOutputAudioTranscriptDelta():
                return [] if self._conn.is_cancelled(event.response_id) else [base.AgentText(event.response_id, event.delta)]
            case rp.ResponseFunctionCallArgumentsDone():
                return [base.ToolCall(event.call_id, event.name, event.arguments)]
            case rp.ResponseDone():
                return self._done(event.response)
            case rp.Error():
                return self._error(event)
            case rp.RateLimitsUpdated():
                return [
                    base.ProviderError(f"rate limit {r.name} exhausted, resets in {r.reset_seconds} s")
                    for r in event.rate_limits
                    if r.remaining == 0
                ]
        return []

    def _audio(self, event: rp.ResponseOutputAudioDelta) -> list[Event]:
        if self._conn.is_cancelled(event.response_id):
            return []
        if not self.pcmu and len(event.delta) % 2:
            return [base.ProviderError("audio delta is not whole samples")]
        pcm = ulaw_decode(event.delta) if self.pcmu else event.delta
        if event.item_id != self.item_id:
            self.item_id, self.delivered_ms = event.item_id, 0.0
        self.delivered_ms += len(pcm) / 2 / self.rate * 1000
        return [base.AgentAudio(event.response_id, pcm, self.rate)]

    def _done(self, response: rp.ResponseInfo) -> list[Event]:
        events: list[Event] = [base.ResponseDone(response.id, response.status)]
        error = (response.status_details or {}).get("error") if response.status == "failed" else None
        if isinstance(error, dict):
            code = str(error.get("code") or error.get("type") or "")
            events.append(base.ProviderError(f"response failed: {code}: {error.get('message', '')}"))
            if code in FATAL_ERRORS or code in REFUSED_ERRORS:
                events.append(Fatal(f"response failed: {code}", rejected=code in REFUSED_ERRORS))
        return events

    def _error(self, error: rp.Error) -> list[Event]:
        if error.code in BENIGN_ERRORS:
            return []
        message = f"{error.error_type} {error.code}: {error.message}"
        events: list[Event] = [base.ProviderError(message)]
        if error.code in REFUSED_ERRORS or error.code in FATAL_ERRORS:
            events.append(Fatal(message, rejected=error.code in REFUSED_ERRORS))
        return events
