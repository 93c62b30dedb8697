"""Speaking a response: text pieces (from the LLM's tokens, or a verbatim text) -> Piper per
piece -> the session's audio format -> one transcript delta, then that piece's audio deltas.

The LLM and TTS run concurrently (the first audio leaves while the LLM is still writing), except
that once the first piece is cut, generation waits until that piece is synthesised: on a small
machine the two would otherwise share the cores and delay the first audio. The rest of the answer
is generated while the first piece plays. Cancelling the caller's scope stops both at the next
token or piece.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from realtime_protocol import AudioFormat, ResponseOutputAudioDelta, ResponseOutputAudioTranscriptDelta

from ..config import TtsSettings
from ..runtime import Runtime
from ..speech.audio import chunk_bytes
from ..speech.text_pieces import PieceSplitter, split_text
from .units import Response

Emit = Callable[..., Awaitable[None]]  # emit(response, event, on_sent=None)


async def speak(runtime: Runtime, response: Response, fmt: AudioFormat, tts: TtsSettings, chunk_ms: int,
                emit: Emit, prefer_slot: int | None = None) -> int | None:
    """Run the response to its end; returns the LLM slot used (None for verbatim text)."""
    slot: list[int | None] = [prefer_slot if response.text is None else None]
    async with anyio.create_task_group() as tg:
        send, receive = anyio.create_memory_object_stream[str](max_buffer_size=math.inf)
        tg.start_soon(_produce_pieces, runtime, response, tts, send, slot)
        async with receive:
            async for piece in receive:
                await _speak_piece(runtime, response, piece, fmt, chunk_ms, emit)
    return slot[0]


async def _produce_pieces(runtime: Runtime, response: Response, tts: TtsSettings,
                          send: MemoryObjectSendStream[str], slot: list[int | None]) -> None:
    async with send:
        if response.text is not None:
            response.first_token_at = time.monotonic()
            for piece in split_text(response.text, tts.first_piece_min_chars, tts.max_piece_chars,
                                    tts.first_piece_max_words):
                await send.send(piece)
            return
        splitter = PieceSplitter(tts.first_piece_min_chars, tts.max_piece_chars, tts.first_piece_max_words)

        async def on_token(token: str) -> None:
            if response.first_token_at is None:
                response.first_token_at = time.monotonic()
            for piece in splitter.feed(token):
                await send.send(piece)
            if response.pieces_sent_to_tts == 0 and splitter.pieces_out:
                response.pieces_sent_to_tts = splitter.pieces_out
                await response.first_piece_synthesized.wait()

        slot[0] = await runtime.generate(response.messages, response.max_tokens, on_token, prefer_slot=slot[0],
                                         prefix=response.prefix)
        for piece in splitter.flush():
            await send.send(piece)


async def _speak_piece(runtime: Runtime, response: Response, piece: str, fmt: AudioFormat, chunk_ms: int,
                       emit: Emit) -> None:
    first = response.first_piece_at is None
    if first:
        response.first_piece_at = time.monotonic()
    try:
        data = await runtime.synthesize(piece, fmt, trim_start=first)
    finally:
        response.first_piece_synthesized.set()
        if response.work is not None:
            runtime.admission.reached(response.work)  # its later jobs wait behind others' first audio
    if not data:
        return

    def first_sent() -> None:
        if response.first_audio_at is None:
            response.first_audio_at = time.monotonic()

    async with response.voice:  # after the filler, if it is being queued
        text = piece if not (response.pieces or response.filler) else " " + piece
        response.pieces.append(piece)
        await emit(response, ResponseOutputAudioTranscriptDelta(response.id, response.item_id, delta=text))
        for part in chunk_bytes(data, fmt.bytes_for_ms(chunk_ms)):
            await emit(response, ResponseOutputAudioDelta(response.id, response.item_id, delta=part),
                       on_sent=first_sent)
