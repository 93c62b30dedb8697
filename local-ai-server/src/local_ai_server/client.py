"""A small Realtime client for this server: used by the tests and the benchmark, and handy from a
shell (`python -m local_ai_server.client --say "What time is it?"` speaks a question made with
espeak-ng and prints what comes back).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import numpy as np
from realtime_protocol import (
    InputAudioTranscriptionCompleted,
    ResponseDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    XLocalTurnMetrics,
    append_message,
)
from websockets.asyncio.client import ClientConnection, connect

FRAME_MS = 20


class RealtimeClient:
    """Collects every server event (with its arrival time) and lets callers wait for one."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict] = []
        self._changed = anyio.Event()
        self.closed = False

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, token: str | None = None, call_id: str | None = None,
                      **kwargs: Any) -> AsyncIterator[RealtimeClient]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if call_id is not None:
            headers["X-Call-Id"] = call_id  # joins this session's server logs to the caller's call
        async with connect(url, additional_headers=headers or None, max_size=None, **kwargs) as ws:
            client = cls(ws)
            async with anyio.create_task_group() as tg:
                tg.start_soon(client._reader)
                try:
                    yield client
                finally:
                    tg.cancel_scope.cancel()

    async def _reader(self) -> None:
        try:
            async for message in self.ws:
                event = json.loads(message)
                event["_t"] = time.monotonic()
                self.events.append(event)
                self._changed.set()
                self._changed = anyio.Event()
        except Exception:
            pass
        finally:
            self.closed = True
            self._changed.set()

    async def send(self, event: dict) -> None:
        await self.ws.send(json.dumps(event))

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def update_session(self, *, rate: int | None = 8000, encoding: str = "pcm", output_rate: int | None = None,
                             output_encoding: str | None = None, instructions: str | None = None,
                             silence_duration_ms: int | None = 500, turn_detection: Any = "server_vad",
                             voice: str | None = None) -> dict:
        def fmt(enc: str, r: int | None) -> dict:
            return {"type": f"audio/{enc}"} if enc in ("pcmu", "pcma") else {"type": "audio/pcm", "rate": r}

        session: dict = {"type": "realtime", "audio": {
            "input": {"format": fmt(encoding, rate)},
            "output": {"format": fmt(output_encoding or encoding, output_rate or rate)},
        }}
        if turn_detection == "server_vad":
            session["audio"]["input"]["turn_detection"] = {"type": "server_vad",
                                                           "silence_duration_ms": silence_duration_ms}
        elif turn_detection is None:
            session["audio"]["input"]["turn_detection"] = None
        if instructions is not None:
            session["instructions"] = instructions
        if voice is not None:
            session["audio"]["output"]["voice"] = voice
        mark = len(self.events)
        await self.send({"type": SessionUpdate.type, "session": session})
        return await self.wait_for(SessionUpdated.type, after=mark)

    async def send_audio(self, pcm: bytes, *, rate: int = 8000, bytes_per_sample: int = 2,
                         realtime: bool = True, frame_ms: int = FRAME_MS) -> None:
        """Send audio as one append per frame; at real-time pace (like a phone call) by default."""
        frame = rate * frame_ms // 1000 * bytes_per_sample
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), frame)):
            if realtime:
                delay = start + index * frame_ms / 1000 - time.monotonic()
                if delay > 0:
                    await anyio.sleep(delay)
            chunk = pcm[offset : offset + frame]
            await self.send_raw(append_message(chunk))

    async def send_silence(self, ms: int, *, rate: int = 8000, realtime: bool = True) -> None:
        await self.send_audio(bytes(rate * ms // 1000 * 2), rate=rate, realtime=realtime)

    def find(self, kind: str, after: int = 0, where: Callable[[dict], bool] | None = None) -> dict | None:
        for event in self.events[after:]:
            if event["type"] == kind and (where is None or where(event)):
                return event
        return None

    def all(self, kind: str, after: int = 0) -> list[dict]:
        return [e for e in self.events[after:] if e["type"] == kind]

    async def wait_for_any(self, kinds: tuple[str, ...], *, after: int = 0, timeout: float = 30.0) -> dict:
        """The first event (from `after` on) of any of `kinds`."""
        with anyio.fail_after(timeout):
            while True:
                event = next((e for e in self.events[after:] if e["type"] in kinds), None)
                if event is not None:
                    return event
                after = len(self.events)
                if self.closed:
                    raise ConnectionError(f"connection closed while waiting for {kinds}")
                await self._changed.wait()

    async def wait_for(self, kind: str, *, after: int = 0, timeout: float = 30.0,
                       where: Callable[[dict], bool] | None = None) -> dict:
        with anyio.fail_after(timeout):
            while True:
                event = self.find(kind, after, where)
                if event is not None:
                    return event
                after = len(self.events)  # seen: a flood of other events is scanned once, not again per event
                if self.closed:
                    raise ConnectionError(f"connection closed while waiting for {kind}")
                await self._changed.wait()


def audio_of(events: list[dict], response_id: str | None = None) -> bytes:
    """All output audio bytes (of one response, or of all)."""
    return b"".join(
        base64.b64decode(e["delta"])
        for e in events
        if e["type"] == ResponseOutputAudioDelta.type and (response_id is None or e["response_id"] == response_id)
    )


def espeak(text: str, *, rate: int = 8000, voice: str = "en-us", speed: int = 160) -> bytes:
    """Test speech: espeak-ng, resampled to telephone quality (s16le mono at `rate`)."""
    import subprocess

    from .speech.audio import resample

    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
                         check=True, capture_output=True).stdout
    data = np.frombuffer(_wav_data(wav), dtype="<i2")
    source_rate = int.from_bytes(wav[24:28], "little")
    return resample(data.astype(np.int16), source_rate, rate).astype("<i2").tobytes()


def _wav_data(wav: bytes) -> bytes:
    """The `data` chunk of a RIFF file (espeak-ng writes an unknown length when piping)."""
    pos = 12
    while pos + 8 <= len(wav):
        chunk, size = wav[pos : pos + 4], int.from_bytes(wav[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            end = pos + 8 + size if 0 < size < 0xFFFFFFF0 else len(wav)
            return wav[pos + 8 : end][: (min(end, len(wav)) - pos - 8) // 2 * 2]
        pos += 8 + size
    raise ValueError("no data chunk in WAV")


async def _cli(args: argparse.Namespace) -> int:
    speech = espeak(args.say, rate=8000)
    async with RealtimeClient.connect(args.url, token=args.token) as client:
        await client.wait_for(SessionCreated.type)
        await client.update_session(rate=8000, instructions=args.instructions)
        mark = len(client.events)
        await client.send_audio(speech)
        await client.send_silence(1500)
        done = await client.wait_for(ResponseDone.type, after=mark, timeout=60)
        transcript = client.find(InputAudioTranscriptionCompleted.type, mark)
        metrics = await client.wait_for(XLocalTurnMetrics.type, after=mark, timeout=5)
        print("heard:   ", transcript and transcript["transcript"])
        answer = "".join(e["delta"] for e in client.all(ResponseOutputAudioTranscriptDelta.type, mark))
        print("answered:", answer, f"({len(audio_of(client.events[mark:])) / 16000:.1f} s of audio)")
        print("status:  ", done["response"]["status"])
        print("timings: ", {k: v for k, v in metrics.items() if k.endswith("_ms")})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_ai_server.client")
    parser.add_argument("--url", default="ws://127.0.0.1:8765/v1/realtime")
    parser.add_argument("--token", default=None)
    parser.add_argument("--say", default="What is the capital of France?")
    parser.add_argument("--instructions", default=None)
    return anyio.run(_cli, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
