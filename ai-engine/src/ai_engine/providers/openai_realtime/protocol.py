"""OpenAI Realtime API (GA), sans-IO: the client events we send, and server events mapped onto
the engine's provider events. `session.py` is the edge.

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

  server event                                       | maps to
  ---------------------------------------------------+-------------------------------------
  session.created                                    | (session.update may go)
  input_audio_buffer.speech_started / speech_stopped | SpeechStarted / SpeechStopped
  conversation.item.input_audio_transcription.completed | Transcript(caller)
  response.created                                   | ResponseStarted
  response.output_audio.delta                        | AgentAudio (not of a cancelled reply)
  response.output_audio_transcript.delta             | AgentText
  response.done                                      | ResponseDone (+ ProviderError if failed)
  error                                              | ProviderError; Fatal for a refused key,
                                                     | a rate limit, an expired session
  rate_limits.updated                                | ProviderError (warning) when exhausted
  anything else                                      | ignored
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from .. import base
from ..ws_edge import ulaw_decode, ulaw_encode

PCMU_RATE = 8000
PCM_RATE = 24000  # the only audio/pcm rate the API accepts
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


def _format(config: RealtimeConfig) -> dict[str, Any]:
    return {"type": "audio/pcmu"} if config.audio_format == "pcmu" else {"type": "audio/pcm", "rate": PCM_RATE}


def session_update(config: RealtimeConfig) -> str:
    if config.turn_detection == "semantic_vad":
        turn: dict[str, Any] = {"type": "semantic_vad", "eagerness": config.eagerness}
    else:
        turn = {
            "type": "server_vad",
            "threshold": config.vad_threshold,
            "prefix_padding_ms": config.prefix_padding_ms,
            "silence_duration_ms": config.silence_duration_ms,
        }
    transcription: dict[str, Any] = {"model": config.transcription_model}
    if config.language:
        transcription["language"] = config.language
    session = {
        "type": "realtime",
        "instructions": config.instructions,
        "output_modalities": ["audio"],
        "audio": {
            "input": {"format": _format(config), "transcription": transcription, "turn_detection": turn},
            "output": {"format": _format(config), "voice": config.voice},
        },
    }
    return json.dumps({"type": "session.update", "session": session})


def greeting(text: str) -> str:
    """response.create with instructions for this one reply: the model says the text as written
    (an assistant item plus response.create would make it write a new reply instead)."""
    instructions = f"Say exactly the following, word for word, and nothing else: {text}"
    return json.dumps({"type": "response.create", "response": {"instructions": instructions}})


def response_cancel() -> str:
    return json.dumps({"type": "response.cancel"})


def truncate(item_id: str, audio_end_ms: int) -> str:
    return json.dumps({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": audio_end_ms})


class RealtimeProtocol:
    """State of one Realtime session: the reply in progress, its audio item and how much of it
    we delivered, and replies we cancelled (their late deltas are dropped)."""

    def __init__(self, audio_format: str):
        self.pcmu = audio_format == "pcmu"
        self.rate = PCMU_RATE if self.pcmu else PCM_RATE
        self.reply: str | None = None  # in progress (response.created, no response.done yet)
        self._cancelled: set[str] = set()
        self.item_id: str | None = None  # the audio item of the last reply that sent audio
        self.delivered_ms = 0.0  # of that item

    def encode_audio(self, pcm: bytes) -> str:
        data = ulaw_encode(pcm) if self.pcmu else pcm
        return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(data).decode("ascii")})

    def cancel(self) -> tuple[list[str], str | None]:
        """Our barge-in: (messages to send, the item to truncate); the reply's audio stops here."""
        messages = []
        if self.reply is not None:
            self._cancelled.add(self.reply)
            messages.append(response_cancel())
        item, self.item_id = self.item_id, None
        return messages, item

    def receive(self, raw: str | bytes) -> list[Event]:
        try:
            msg = json.loads(raw)
        except ValueError:
            return [base.ProviderError("message is not JSON")]
        if not isinstance(msg, dict):
            return [base.ProviderError("message is not a JSON object")]
        kind = msg.get("type")
        if kind == "session.created":
            return [SessionCreated(str((msg.get("session") or {}).get("id", "")))]
        if kind == "input_audio_buffer.speech_started":
            return [base.SpeechStarted()]
        if kind == "input_audio_buffer.speech_stopped":
            return [base.SpeechStopped()]
        if kind == "conversation.item.input_audio_transcription.completed":
            return [base.Transcript("caller", str(msg.get("transcript", "")))]
        if kind == "response.created":
            self.reply = str((msg.get("response") or {}).get("id", ""))
            return [base.ResponseStarted(self.reply)]
        if kind == "response.output_audio.delta":
            return self._audio(msg)
        if kind == "response.output_audio_transcript.delta":
            rid = str(msg.get("response_id", ""))
            return [] if rid in self._cancelled else [base.AgentText(rid, str(msg.get("delta", "")))]
        if kind == "response.done":
            return self._done(msg.get("response") or {})
        if kind == "error":
            return self._error(msg.get("error") or {})
        if kind == "rate_limits.updated":
            spent = [r for r in msg.get("rate_limits") or [] if isinstance(r, dict) and r.get("remaining") == 0]
            return [base.ProviderError(f"rate limit {r.get('name')} exhausted, resets in {r.get('reset_seconds')} s") for r in spent]
        return []

    def _audio(self, msg: dict) -> list[Event]:
        rid = str(msg.get("response_id", ""))
        if rid in self._cancelled:
            return []
        try:
            data = base64.b64decode(msg.get("delta", ""), validate=True)
        except (ValueError, binascii.Error):
            return [base.ProviderError("audio delta is not base64")]
        if not self.pcmu and len(data) % 2:
            return [base.ProviderError("audio delta is not whole samples")]
        pcm = ulaw_decode(data) if self.pcmu else data
        item = str(msg.get("item_id", ""))
        if item != self.item_id:
            self.item_id, self.delivered_ms = item, 0.0
        self.delivered_ms += len(pcm) / 2 / self.rate * 1000
        return [base.AgentAudio(rid, pcm, self.rate)]

    def _done(self, response: dict) -> list[Event]:
        rid = str(response.get("id", ""))
        status = str(response.get("status", "completed"))
        self._cancelled.discard(rid)
        if self.reply == rid:
            self.reply = None
        events: list[Event] = [base.ResponseDone(rid, status)]
        error = ((response.get("status_details") or {}).get("error") or {}) if status == "failed" else {}
        if error:
            code = str(error.get("code") or error.get("type") or "")
            events.append(base.ProviderError(f"response failed: {code}: {error.get('message', '')}"))
            if code in FATAL_ERRORS or code in REFUSED_ERRORS:
                events.append(Fatal(f"response failed: {code}", rejected=code in REFUSED_ERRORS))
        return events

    def _error(self, error: Any) -> list[Event]:
        if not isinstance(error, dict):
            return [base.ProviderError(str(error))]
        code = str(error.get("code") or "")
        if code in BENIGN_ERRORS:
            return []
        message = f"{error.get('type', 'error')} {code}: {error.get('message', '')}".strip()
        events: list[Event] = [base.ProviderError(message)]
        if code in REFUSED_ERRORS or code in FATAL_ERRORS:
            events.append(Fatal(message, rejected=code in REFUSED_ERRORS))
        return events
