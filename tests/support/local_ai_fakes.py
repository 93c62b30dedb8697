"""Test helpers for local-ai-server: fake models, a synthetic voice, and an in-process server."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
import numpy as np
from local_ai_server.config import Settings
from local_ai_server.models import ModelSet
from local_ai_server.runtime import Runtime
from local_ai_server.server import make_uvicorn_server


class Probe:
    """Counts model jobs running at once (across all fakes sharing it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def __enter__(self):
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)

    def __exit__(self, *exc):
        with self._lock:
            self.running -= 1


class FakeSTT:
    def __init__(self, transcript: str = "What time does the store open tomorrow?", delay: float = 0.0,
                 probe: Probe | None = None, gate: threading.Event | None = None) -> None:
        self.transcript = transcript
        self.delay = delay
        self.gate = gate  # when given, every transcription waits until it is set
        self.probe = probe or Probe()
        self.calls: list[int] = []  # audio lengths (samples at 16 kHz)

    def transcribe(self, audio_16k: np.ndarray) -> str:
        with self.probe:
            self.calls.append(len(audio_16k))
            if self.gate is not None:
                self.gate.wait(30)
            if self.delay:
                time.sleep(self.delay)
            return self.transcript


class FakeLLM:
    """Speaks `reply`; or, with `script`, one scripted answer per response, written as the model
    writes it when the session has tools (speech/tools.py): plain words are spoken, and
    `name: {"arg": ...}` is a call of that tool. Strict like the grammar it stands in for: a
    scripted tool the decision was not offered, or arguments that do not match the tool's schema,
    raise (and so fail the response)."""

    def __init__(self, reply: str = "Sure thing, the store opens at nine. We close at five. See you then!",
                 token_delay: float = 0.0, probe: Probe | None = None, slots: int = 1,
                 script: list[str] | None = None, supports_tools: bool = True) -> None:
        self.reply = reply
        self.supports_tools = supports_tools
        self.token_delay = token_delay
        self.probe = probe or Probe()
        self._slots = slots
        self.script = list(script or [])
        self.prompts: list[list[dict]] = []
        self.prefills: list[list[dict]] = []
        self.decisions: list[list[str]] = []  # the options offered, per decision
        self.prefixes: list[str] = []
        self.tokens_out = 0
        self._current: str | None = None

    @property
    def slots(self) -> int:
        return self._slots

    def prefill(self, slot: int, messages: list[dict]) -> None:
        self.prefills.append(messages)

    def _scripted(self) -> tuple[str, str]:
        """The next answer as (action, rest): ("say", words) or (tool name, JSON arguments)."""
        answer = self.script.pop(0) if self.script else self.reply
        match = re.fullmatch(r"([A-Za-z0-9_-]+): (\{.*\})", answer, flags=re.S)
        return (match.group(1), match.group(2)) if match else ("say", answer)

    def choose(self, slot: int, messages: list[dict], options: list[str]) -> str:
        self.prompts.append(messages)
        self.decisions.append(list(options))
        action, rest = self._scripted()
        if action not in options:
            raise ValueError(f"scripted {action!r} is not among the offered {options}")
        self._current = rest
        return action

    def stream(self, slot: int, messages: list[dict], *, max_tokens: int, prefix: str = "",
               schema: dict | None = None):
        self.prefixes.append(prefix)
        if self._current is None:  # no decision before it: a plain reply, or nothing to choose
            self.prompts.append(messages)
            action, text = self._scripted()
            if action != "say":
                raise ValueError(f"scripted call {action!r} but the server asked for a reply")
        else:
            text, self._current = self._current, None
        if schema is not None:
            check_schema(json.loads(text), schema)
        if prefix:
            text = " " + text
        for token in re.findall(r"\S+\s*|\s+", text)[:max_tokens]:
            with self.probe:
                if self.token_delay:
                    time.sleep(self.token_delay)
            self.tokens_out += 1
            yield token


def check_schema(value: object, schema: dict) -> None:
    """The part of JSON schema the built-in tools use: object, properties, required, enum, types."""
    kinds = {"object": dict, "string": str, "integer": int, "number": (int, float), "boolean": bool}
    kind = schema.get("type")
    if kind in kinds and not isinstance(value, kinds[kind]):
        raise ValueError(f"{value!r} is not of type {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise ValueError(f"{value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise ValueError(f"required argument {name!r} is missing")
        for name, item in value.items():
            if name not in properties:
                raise ValueError(f"unknown argument {name!r}")
            check_schema(item, properties[name])


class FakeTTS:
    """A 440 Hz tone, `ms_per_char` long per character, at 16 kHz."""

    sample_rate = 16000

    def __init__(self, ms_per_char: int = 10, delay: float = 0.0, probe: Probe | None = None) -> None:
        self.ms_per_char = ms_per_char
        self.delay = delay
        self.probe = probe or Probe()
        self.texts: list[str] = []

    def duration_s(self, text: str) -> float:
        return len(text) * self.ms_per_char / 1000

    def synthesize(self, text: str) -> np.ndarray:
        with self.probe:
            self.texts.append(text)
            if self.delay:
                time.sleep(self.delay)
            n = int(self.sample_rate * self.duration_s(text))
            t = np.arange(n) / self.sample_rate
            return (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)


def fake_models(stt: FakeSTT | None = None, llm: FakeLLM | None = None, tts: FakeTTS | None = None) -> ModelSet:
    return ModelSet.of(stt or FakeSTT(), llm or FakeLLM(), tts or FakeTTS())


def vowel(seconds: float, rate: int = 8000, f0: float = 120.0) -> bytes:
    """A synthetic sustained vowel that webrtcvad classifies as speech (s16le at `rate`)."""
    t = np.arange(int(seconds * rate)) / rate
    signal = np.zeros_like(t)
    for k in range(1, int(rate / 2 / f0)):
        f = k * f0
        weight = np.exp(-((f - 700) / 300) ** 2) + 0.6 * np.exp(-((f - 1200) / 400) ** 2) + 0.3 * np.exp(
            -((f - 2500) / 500) ** 2)
        signal += weight * np.sin(2 * np.pi * f * t)
    signal *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return (signal / np.max(np.abs(signal)) * 8000).astype("<i2").tobytes()


def silence(seconds: float, rate: int = 8000) -> bytes:
    return bytes(int(seconds * rate) * 2)


@asynccontextmanager
async def serve(runtime: Runtime) -> AsyncIterator[str]:
    """Run the real server (uvicorn, real sockets) on a free loopback port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = make_uvicorn_server(runtime)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        try:
            yield f"127.0.0.1:{port}"
        finally:
            server.should_exit = True


async def http_get(url: str) -> tuple[int, bytes]:
    def get() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    return await anyio.to_thread.run_sync(get)


def make_runtime(models: ModelSet | None = None, **settings) -> Runtime:
    """A runtime over fake models. The admission filler is off unless a test asks for it: the
    fakes' delays are not a real load, and a test of something else hears no "One moment, please."."""
    settings.setdefault("admission", {"filler_after_ms": 0})
    return Runtime(Settings(**settings), models if models is not None else fake_models())
