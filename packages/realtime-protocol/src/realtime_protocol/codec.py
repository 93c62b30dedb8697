"""Text in, events out, and back: parsing and serializing Realtime messages, both directions.

Bounded and strict: a message over `max_bytes`, invalid JSON (a JSON integer over Python's 4,300
digit limit included), a non-object, a missing or unknown `type`, or a bad field raises
`ProtocolError` (with the client event's `event_id` when it had one). Nothing here does I/O.
"""

from __future__ import annotations

import json
from typing import Any

from . import server_deltas as sd
from . import server_events as se
from ._fields import b64encode
from .client_events import CLIENT_EVENTS, ClientEvent, InputAudioBufferAppend
from .errors import ProtocolError
from .formats import AudioFormat

SERVER_EVENTS: dict[str, Any] = {cls.type: cls for cls in (
    se.Error, se.SessionCreated, se.SessionUpdated, se.InputAudioBufferSpeechStarted,
    se.InputAudioBufferSpeechStopped, se.InputAudioBufferCommitted, se.InputAudioBufferCleared,
    se.ConversationItemAdded, se.ConversationItemDone, se.InputAudioTranscriptionCompleted,
    se.ConversationItemTruncated, se.ResponseCreated, se.ResponseDone, se.ResponseOutputItemAdded,
    se.ResponseOutputItemDone, sd.ResponseOutputAudioDelta, sd.ResponseOutputAudioDone,
    sd.ResponseOutputAudioTranscriptDelta, sd.ResponseOutputAudioTranscriptDone,
    sd.ResponseFunctionCallArgumentsDelta, sd.ResponseFunctionCallArgumentsDone, sd.RateLimitsUpdated,
    sd.XLocalTurnMetrics, sd.XLocalResponseMetrics,
)}

ServerEvent = (
    se.Error | se.SessionCreated | se.SessionUpdated | se.InputAudioBufferSpeechStarted
    | se.InputAudioBufferSpeechStopped | se.InputAudioBufferCommitted | se.InputAudioBufferCleared
    | se.ConversationItemAdded | se.ConversationItemDone | se.InputAudioTranscriptionCompleted
    | se.ConversationItemTruncated | se.ResponseCreated | se.ResponseDone | se.ResponseOutputItemAdded
    | se.ResponseOutputItemDone | sd.ResponseOutputAudioDelta | sd.ResponseOutputAudioDone
    | sd.ResponseOutputAudioTranscriptDelta | sd.ResponseOutputAudioTranscriptDone
    | sd.ResponseFunctionCallArgumentsDelta | sd.ResponseFunctionCallArgumentsDone | sd.RateLimitsUpdated
    | sd.XLocalTurnMetrics | sd.XLocalResponseMetrics | sd.Unhandled
)

_APPEND_PREFIX = '{"type":"' + InputAudioBufferAppend.type + '","audio":"'


def _load(message: str | bytes, max_bytes: int) -> tuple[dict, str | None, str]:
    if isinstance(message, bytes):
        raise ProtocolError("invalid_message", "binary WebSocket messages are not supported; send JSON text")
    if len(message) > max_bytes:
        raise ProtocolError("message_too_large", f"message of {len(message)} bytes exceeds the {max_bytes} byte limit")
    try:
        obj = json.loads(message)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, and ints over the 4,300 digit limit
        raise ProtocolError("invalid_json", f"message is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("invalid_event", "an event must be a JSON object")
    event_id = obj.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or len(event_id) > 128):
        raise ProtocolError("invalid_event", "event_id must be a string of at most 128 characters", param="event_id")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_event", "an event needs a string `type`", event_id=event_id, param="type")
    return obj, event_id, kind


def parse_client_event(message: str | bytes, *, max_bytes: int, input_format: AudioFormat | None = None) -> ClientEvent:
    """One client message -> a client event. With `input_format`, appended pcm audio must be whole
    16-bit samples."""
    obj, event_id, kind = _load(message, max_bytes)
    cls = CLIENT_EVENTS.get(kind)
    if cls is None:
        raise ProtocolError("unknown_event", f"unknown or unsupported event type {kind[:64]!r}", event_id=event_id,
                            param="type")
    try:
        event = cls.from_wire(obj, event_id)
    except ProtocolError as exc:
        exc.event_id = event_id
        raise
    if (cls is InputAudioBufferAppend and input_format is not None and input_format.encoding == "pcm"
            and len(event.audio) % 2):
        raise ProtocolError("invalid_audio", f"audio/pcm needs whole 16-bit samples; got {len(event.audio)} bytes "
                            "(an odd count)", event_id=event_id, param="audio")
    return event


def parse_server_event(message: str | bytes, *, max_bytes: int) -> ServerEvent:
    """One server message -> a server event (`Unhandled` for a type outside our subset)."""
    obj, _event_id, kind = _load(message, max_bytes)
    cls = SERVER_EVENTS.get(kind)
    if cls is None:
        return sd.Unhandled(kind[:128], _event_id)
    try:
        return cls.from_wire(obj)
    except ProtocolError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:  # a shape the strict readers did not foresee
        raise ProtocolError("invalid_event", f"malformed {kind}: {type(exc).__name__}") from None


def serialize(event: Any) -> str:
    """An event of either direction -> its JSON text (compact)."""
    to_json = getattr(event, "to_json", None)
    if to_json is not None:
        return to_json()
    return json.dumps(event.to_wire(), separators=(",", ":"), ensure_ascii=False)


def append_message(pcm: bytes) -> str:
    """`input_audio_buffer.append` for `pcm`, the client's hot path (no event object, no json.dumps)."""
    return _APPEND_PREFIX + b64encode(pcm) + '"}'
