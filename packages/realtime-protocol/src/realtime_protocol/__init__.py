"""Sans-IO OpenAI Realtime protocol: the subset both services speak (GA event names), our
`x_local.*` extensions, and room for function calls. See docs/protocol.md.

Events are frozen classes (`client_events`, `server_events`, `server_deltas`); each class's `type`
spells its wire name, the only place it is spelled. `codec` turns text into events and back;
`connection` wraps that as the two ends of a session (h11 style: no I/O inside).
"""

from ._fields import UNSET, new_id
from .client_events import (
    CLIENT_EVENTS,
    ClientEvent,
    ConversationItemCreate,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
)
from .codec import SERVER_EVENTS, ServerEvent, append_message, parse_client_event, parse_server_event, serialize
from .connection import ClientConnection, ServerConnection
from .errors import ProtocolError
from .formats import G711_RATE, PCM_RATES, AudioFormat, AudioFormatError
from .items import ContentPart, FunctionCallItem, FunctionCallOutputItem, Item, MessageItem, item_from_wire
from .server_deltas import (
    TURN_STAGES,
    RateLimit,
    RateLimitsUpdated,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    Unhandled,
    XLocalResponseMetrics,
    XLocalTurnMetrics,
)
from .server_events import (
    ConversationItemAdded,
    ConversationItemDone,
    ConversationItemTruncated,
    Error,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    ResponseCreated,
    ResponseDone,
    ResponseInfo,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    SessionCreated,
    SessionUpdated,
)
from .session import SessionConfig, Tool, Transcription, TurnDetection

__all__ = [name for name in dir() if not name.startswith("_")]
