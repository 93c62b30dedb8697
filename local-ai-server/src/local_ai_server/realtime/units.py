"""The two units of work in a session, as plain state: a caller's turn and a spoken response.

A turn knows the response that answers it; a response does not know what asked for it (a turn
or a `response.create`), so data flows one way: turn -> response -> audio out."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import numpy as np


def ms_between(start: float | None, end: float | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000)


@dataclass(eq=False)
class Response:
    """One spoken answer: LLM text (or verbatim text) cut into pieces, each synthesised and sent."""

    id: str
    item_id: str
    messages: list[dict] | None = None  # LLM prompt, or None when speaking `text` verbatim
    text: str | None = None
    max_tokens: int = 80
    gate: anyio.Event | None = None  # output waits for it (speculative responses)
    speculative: bool = False  # made before its turn ended: until the gate opens, no caller waits for it
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    active: bool = False  # response.created was sent
    cancelled: bool = False
    finished: bool = False
    status: str | None = None  # once finished: completed, cancelled or failed
    pieces: list[str] = field(default_factory=list)  # text whose audio went out
    requested_at: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    first_piece_at: float | None = None  # first text piece ready for TTS
    first_audio_at: float | None = None
    cancel_reason: str | None = None
    pieces_sent_to_tts: int = 0
    work: object | None = None  # its admission.FirstAudioWork, while it runs
    filler: str | None = None  # spoken first (admission.py: the first audio was predicted late, or is late)
    voice: anyio.Lock = field(default_factory=anyio.Lock)  # held while the filler's or a piece's audio is queued
    first_piece_synthesized: anyio.Event = field(default_factory=anyio.Event)
    trigger: str = "turn"  # or ResponseCreate.type
    # Function calling (calling.py): the words the decision may choose (None: no decision, the
    # reply is spoken), the session's tools, and what the reply starts with in the prompt.
    options: list[str] | None = None
    tools: tuple = ()
    prefix: str = ""
    announced: bool = False  # response.output_item.added was sent
    call_name: str | None = None  # set when the decision chose a tool: the response is that call
    call_id: str | None = None
    arguments: str = ""  # the call's JSON arguments, as written so far


@dataclass(eq=False)
class Turn:
    """One caller utterance from the VAD (or a commit): transcribed, then usually answered."""

    item_id: str
    audio: np.ndarray
    voiced_ms: int
    end_of_speech: float  # monotonic time of the end of the caller's speech
    speculative: bool
    create_response: bool
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    committed: anyio.Event = field(default_factory=anyio.Event)
    committed_at: float | None = None
    interrupted: bool = False  # caller spoke again / buffer cleared: transcribe, but no response
    failed: bool = False  # the STT failed: a final turn must start afresh rather than wait for it
    response: Response | None = None
    stt_started: float | None = None
    stt_done: float | None = None
    transcript_at: float | None = None
    speech_stopped_at: float | None = None
    transcript: str | None = None  # once the STT is done
    end_probability: float | None = None  # the semantic end-of-turn check's, when it was asked (models/turn_end.py)
    on_transcribed: Callable[[Turn], Awaitable[None]] | None = None  # a speculative turn's transcript (or failure)


def innermost(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
