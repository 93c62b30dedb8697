"""The provider interface and its events."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from ..tools.base import ToolSpec


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The provider heard the caller start speaking (used for barge-in)."""


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """The provider decided the caller's turn ended."""


@dataclass(frozen=True, slots=True)
class Transcript:
    role: Literal["caller", "agent"]
    text: str


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    response_id: str


@dataclass(frozen=True, slots=True)
class AgentText:
    """A piece of the agent's reply text; its audio follows (a natural place to cut a file)."""

    response_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AgentAudio:
    response_id: str
    pcm: bytes  # signed 16-bit little-endian mono
    rate: int


@dataclass(frozen=True, slots=True)
class ResponseDone:
    response_id: str
    status: str  # completed | cancelled | failed | incomplete


@dataclass(frozen=True, slots=True)
class TurnMetrics:
    """Server-side stage timings of a turn (local-ai-server extension), in ms from end of speech."""

    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asked for a tool: `arguments` is the JSON text it wrote. The engine answers it
    with `ProviderSession.send_tool_result(call_id, ...)`."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ProviderError:
    message: str


ProviderEvent = (
    SpeechStarted | SpeechStopped | Transcript | ResponseStarted | AgentText | AgentAudio | ResponseDone | TurnMetrics | ToolCall | ProviderError
)


@dataclass(frozen=True, slots=True)
class SessionOptions:
    instructions: str
    voice: str | None
    call_id: str
    tools: tuple[ToolSpec, ...] = ()  # offered to the model in the provider's own form
    tool_choice: str = "auto"  # the persona's: auto | none | required (where the provider has it)


EventSink = Callable[[ProviderEvent], None]


class ProviderSession(Protocol):
    input_rate: int

    def push_audio(self, pcm: bytes) -> None:
        """Caller audio, s16le mono at `input_rate`. Never blocks (it is called from the capture
        leg's receive callback, once per 20 ms frame): the session queues it, bounded."""

    async def say(self, text: str) -> None:
        """Speak `text` verbatim (greetings)."""

    async def cancel_response(self) -> None:
        """Stop the current response; no more of its audio is delivered."""

    async def send_user_text(self, text: str) -> None:
        """Something the caller did that is not speech (a key press), told to the model as a
        user turn; the model answers it."""

    async def send_tool_result(self, call_id: str, name: str, output: str, respond: bool) -> None:
        """The result (JSON text) of the tool call `call_id`; with `respond` the model goes on
        talking (it is asked for a response where the vendor does not do so by itself)."""

    async def run(self, deliver: EventSink) -> None:
        """Hand every event to `deliver` (sync, in order) until the session ends; raises
        `ProviderUnavailable` when it is lost. Caller audio is only sent while this runs."""


class Provider(Protocol):
    name: str

    def session(self, options: SessionOptions) -> AbstractAsyncContextManager[ProviderSession]:
        ...

    async def ready(self) -> bool:
        ...

    # Optional: `not_ready_reason: str | None`, shown by /health next to `ready: false`.


class ProviderUnavailable(Exception):
    """The provider could not be reached or closed the session."""


class ProviderRejected(ProviderUnavailable):
    """The provider refused us (no API key, a key it rejects): retrying cannot help, so the
    call goes to the failure context at once instead of waiting on a hold prompt."""
