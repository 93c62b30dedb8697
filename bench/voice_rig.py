"""Shared by the voice benchmarks: the real local-ai-server in its own process, the engine and the
Asterisk emulator in this one, a caller that speaks espeak-ng clips, and readers of what the
caller heard and of the engine's per-turn log lines."""

from __future__ import annotations

import logging
import sys
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))  # the Asterisk emulator is a test double living in tests/

from ai_engine.observability.logs import setup_logging  # noqa: E402
from engine_harness import running_rig  # noqa: E402

from bench.local_ai_server import INSTRUCTIONS, QUESTIONS, VOICES, free_port, percentile, speech_clip, start_server  # noqa: E402,F401

RESULTS = ROOT / "bench" / "results"
RATE = 8000
HEARD_LEVEL = 300  # a 20 ms frame louder than this (RMS) is agent audio


class TurnLog(logging.Handler):
    """Collects the engine's `turn.latency` and `provider.turn_metrics` log events."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.turns: list[dict] = []
        self.server: list[dict] = []
        self.breakdown: list[dict] = []  # `turn.breakdown`: the stages of each turn (ms)

    def emit(self, record: logging.LogRecord) -> None:
        event = record.msg if isinstance(record.msg, dict) else None
        if event is None:
            return
        if event.get("event") == "turn.latency":
            self.turns.append(event)
        elif event.get("event") == "provider.turn_metrics":
            self.server.append(event)
        elif event.get("event") == "turn.breakdown":
            self.breakdown.append(event)

    @classmethod
    def install(cls) -> TurnLog:
        setup_logging("WARNING")
        handler = cls()
        for name in ("ai_engine.calls.turn_timer",):
            logger = logging.getLogger(name)
            logger.setLevel(logging.INFO)
            logger.propagate = False  # keep the benchmark's own output readable
            logger.addHandler(handler)
        return handler


@asynccontextmanager
async def local_ai_server():
    port = free_port()
    RESULTS.mkdir(parents=True, exist_ok=True)
    proc = await anyio.to_thread.run_sync(start_server, port, RESULTS / "voice_server.log", {})
    try:
        yield f"ws://127.0.0.1:{port}/v1/realtime"
    finally:
        proc.terminate()
        proc.wait(10)


@asynccontextmanager
async def voice_rig(url: str, mode: str, greeting: str, **overrides):
    with tempfile.TemporaryDirectory() as tmp:
        async with running_rig(
            Path(tmp),
            provider_url=url,
            playback={"downstream_mode": mode, **overrides.pop("playback", {})},
            personas={"default": {"greeting": greeting, "instructions": INSTRUCTIONS}},
            **overrides,
        ) as rig:
            yield rig


def frame_levels(pcm: bytes) -> np.ndarray:
    x = np.frombuffer(pcm[: len(pcm) // 320 * 320], dtype="<i2").astype(np.float32).reshape(-1, 160)
    return np.sqrt((x * x).mean(axis=1))


def first_heard_after(call, t: float) -> float | None:
    """Emulator time of the first loud 20 ms frame the caller heard from `t` on."""
    times = call.heard_times()
    start = int(np.searchsorted(times, t))
    loud = np.nonzero(frame_levels(call.heard_pcm())[start:] > HEARD_LEVEL)[0]
    return float(times[start + loud[0]]) if loud.size else None


def last_heard_before(call, t: float) -> float | None:
    """Emulator time at which the last loud frame the caller heard before `t` ended."""
    times = call.heard_times()
    end = int(np.searchsorted(times, t))
    loud = np.nonzero(frame_levels(call.heard_pcm())[:end] > HEARD_LEVEL)[0]
    return float(times[loud[-1]]) + 0.02 if loud.size else None


async def wait_quiet(call, quiet_s: float = 1.2, timeout: float = 30.0) -> None:
    """Until the caller has heard nothing loud for `quiet_s` (the agent finished talking)."""
    deadline = anyio.current_time() + timeout
    while anyio.current_time() < deadline:
        now = anyio.current_time()
        last = last_heard_before(call, now)
        if last is None or now - last >= quiet_s:
            return
        await anyio.sleep(0.1)


async def wait_heard(call, after: float, timeout: float = 15.0) -> float | None:
    deadline = anyio.current_time() + timeout
    while anyio.current_time() < deadline:
        t = first_heard_after(call, after)
        if t is not None:
            return t
        await anyio.sleep(0.02)
    return None


def stats(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "n": len(values)}
