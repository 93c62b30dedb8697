"""Runs the real engine against the Asterisk emulator and a fake (or real) Realtime server,
all over loopback sockets with ephemeral ports."""

from __future__ import annotations

from contextlib import AsyncExitStack
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import numpy as np
from voice_common.pcm import frame_bytes

from ai_engine.app import Engine
from ai_engine.config import Settings
from asterisk_emulator import AsteriskEmulator
from bench.ports import free_port
from fakes.realtime_server import FakeRealtimeServer

ARI_PASSWORD = "test-ari-password-5d1c"
API_TOKEN = "test-api-token-7f3a"
API_AUTH = {"Authorization": f"Bearer {API_TOKEN}"}  # for /calls and /health details


def tone(freq: float, ms: int, rate: int = 8000, amplitude: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def tone_level(pcm: bytes, freq: float, rate: int = 8000) -> float:
    """Amplitude of `freq` in `pcm` (single-bin DFT with a Hann window)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if x.size == 0:
        return 0.0
    w = np.hanning(x.size)
    bin_ = np.exp(-2j * np.pi * freq * np.arange(x.size) / rate)
    return float(2 * abs(np.sum(x * w * bin_)) / np.sum(w))


def peak_tone_level(pcm: bytes, freq: float, window_ms: int = 100, rate: int = 8000) -> float:
    """Highest amplitude of `freq` over consecutive windows: is the tone anywhere in `pcm`?"""
    step = frame_bytes(rate, window_ms)
    return max((tone_level(pcm[i : i + step], freq, rate) for i in range(0, len(pcm) - step + 1, step)), default=0.0)


@dataclass
class Rig:
    engine: Engine
    emu: AsteriskEmulator
    fake: FakeRealtimeServer | None
    media_dir: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.engine.http_port}"

    def media_files(self) -> list[str]:
        return sorted(p.name for p in self.media_dir.iterdir())

    def engine_channels(self) -> list[str]:
        """Channels the engine is responsible for: its legs, and anything still in Stasis.
        (A caller sent on to the failure context is in the dialplan, not ours any more.)"""
        return sorted(
            cid for cid, ch in self.emu.channels.items() if ch.kind not in ("phone", "caller") or ch.in_stasis
        )

    def our_bridges(self) -> list[str]:
        return sorted(self.emu.bridges)


async def eventually(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    """Test helper: re-check `predicate` every 20 ms until it holds (end-state checks)."""
    deadline = anyio.current_time() + timeout
    while not predicate():
        if anyio.current_time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await anyio.sleep(0.02)


def engine_settings(tmp_path: Path, emu_url: str, provider_url: str, as_port: int, **overrides) -> Settings:
    media_dir = tmp_path / "sounds" / "ai-generated"
    base = {
        "ari": {"url": emu_url, "password": ARI_PASSWORD, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5, "request_timeout_s": 2.0},
        "audiosocket": {"host": "127.0.0.1", "port": as_port, "advertise_host": "127.0.0.1"},
        "http": {"host": "127.0.0.1", "port": 0},
        "api": {"token": API_TOKEN},
        "playback": {"media_dir": str(media_dir), "sound_prefix": "ai-generated", "segment_min_ms": 200},
        "providers": {"local": {"url": provider_url, "health_url": None}},
        "personas": {"default": {"greeting": "Hello", "instructions": "Be brief."}},
        "records": {"data_dir": str(tmp_path / "data")},
    }
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(base.get(section), dict):
            base[section] = {**base[section], **values}
        else:
            base[section] = values
    return Settings(**base)


@asynccontextmanager
async def running_rig(
    tmp_path: Path, fake: FakeRealtimeServer | None = None, provider_url: str | None = None, contexts: dict | None = None, **overrides
):
    fake = fake if fake is not None or provider_url is not None else FakeRealtimeServer()
    as_port = free_port()
    sounds = tmp_path / "sounds"
    (sounds / "ai-generated").mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        if fake is not None:
            await stack.enter_async_context(fake.running())
            provider_url = fake.url
        emu = await stack.enter_async_context(
            AsteriskEmulator(
                app="ai-agent",
                username="ai-agent",
                password=ARI_PASSWORD,
                audiosocket_address=("127.0.0.1", as_port),
                sounds_dir=sounds,
                fork_context="ai-agent-media-fork",
                # Callers the engine sends on stay alive there for a while, as with the real
                # dialplan (asterisk-conf/extensions_custom.conf plays a prompt first).
                extra_contexts={
                    "ai-agent-unavailable": [("Answer", ""), ("Wait", "30"), ("Hangup", "")],
                    "ai-agent-overflow": [("Answer", ""), ("Wait", "30"), ("Hangup", "34")],
                    **(contexts or {}),  # e.g. transfer targets
                },
            )
        )
        settings = engine_settings(tmp_path, emu.ari_url, provider_url, as_port, **overrides)
        async with running_engine(settings) as engine:
            yield Rig(engine, emu, fake, sounds / "ai-generated")


@asynccontextmanager
async def running_engine(settings: Settings):
    """An engine running in this process until the block ends, started and connected to ARI."""
    engine = Engine(settings)
    async with anyio.create_task_group() as tg:
        tg.start_soon(engine.run)
        with anyio.fail_after(10):
            await engine.started.wait()
            await engine.ari.wait_connected()
        try:
            yield engine
        finally:
            engine.stop()
            tg.cancel_scope.cancel()
