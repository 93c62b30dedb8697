"""A transcript of what the test caller heard, from a Realtime provider's speech recognition
(local-ai-server's Whisper): one session with no turn detection, the audio appended, one commit,
and the `input_audio_transcription.completed` that answers it. No response is asked for."""

from __future__ import annotations

import anyio
import realtime_protocol as rp
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ..config import ProviderSettings

CHUNK = 8000 * 2 // 5  # 200 ms of 8 kHz s16le per append


async def transcribe(settings: ProviderSettings, pcm8k: bytes, timeout_s: float = 20.0) -> str:
    """The provider's transcript of `pcm8k`; raises RuntimeError with the reason when it cannot."""
    headers = {}
    if settings.auth_token is not None:
        headers["Authorization"] = f"Bearer {settings.auth_token.get_secret_value()}"
    try:
        with anyio.fail_after(timeout_s):
            async with connect(settings.url, additional_headers=headers, max_size=settings.max_message_bytes) as ws:
                config = rp.SessionConfig(input_format=rp.AudioFormat("pcm", 8000), turn_detection=None)
                await ws.send(rp.serialize(rp.SessionUpdate(config)))
                for i in range(0, len(pcm8k), CHUNK):
                    await ws.send(rp.serialize(rp.InputAudioBufferAppend(pcm8k[i : i + CHUNK])))
                await ws.send(rp.serialize(rp.InputAudioBufferCommit()))
                async for message in ws:
                    event = rp.parse_server_event(message, max_bytes=settings.max_message_bytes)
                    if isinstance(event, rp.InputAudioTranscriptionCompleted):
                        return event.transcript
                    if isinstance(event, rp.Error):
                        raise RuntimeError(f"provider error: {event.message}"[:200])
    except TimeoutError:
        raise RuntimeError(f"no transcript within {timeout_s:.0f} s") from None
    except (OSError, InvalidHandshake, ConnectionClosed, rp.ProtocolError) as exc:
        raise RuntimeError(f"{type(exc).__name__}: {exc}"[:200]) from None
    raise RuntimeError("the provider closed the session without a transcript")
