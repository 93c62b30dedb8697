"""Cloud providers, engine side (issue 10): through the Asterisk emulator with each vendor's
strict fake, how long the engine adds between the vendor's first audio byte of a reply and our
first frame of it to Asterisk, and CPU per call.

  added latency  fake's first audio chunk of a reply sent -> stream mode: the first non-silent
                 frame on the playback leg; file mode: the POST .../play of its first file
  cpu/call-s     process CPU seconds per call per wall second while N calls talk (engine,
                 emulator and fake share the process: an upper bound for the engine alone;
                 the `local` row, the fake local-ai-server, is the baseline)

  python -m bench providers [--turns N] [--calls N] [--modes stream,file]
Prints a table and writes bench/results/providers.json. The vendors are fakes: the table says
nothing about the vendors' own latency.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import anyio
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))  # the emulator and the fakes live in tests/

from ai_engine.observability.logs import setup_logging  # noqa: E402
from bench.calibration import calibrated  # noqa: E402
from engine_harness import running_rig, tone  # noqa: E402
from fakes.deepgram_agent import FakeDeepgramAgent  # noqa: E402
from fakes.gemini_live import FakeGeminiLive  # noqa: E402
from fakes.openai_realtime import FakeOpenAIRealtime  # noqa: E402
from fakes.realtime_server import FakeRealtimeServer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
KINDS = {"openai_realtime": FakeOpenAIRealtime, "deepgram_agent": FakeDeepgramAgent, "gemini_live": FakeGeminiLive}


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q * 100)), 1) if values else None


def overrides(kind: str, fake, mode: str) -> dict:
    persona = {"default": {"provider": "cloud", "greeting": "Hello", "instructions": "Be brief."}}
    playback = {"downstream_mode": mode}
    if kind == "local":  # the rig points `local` at the fake local-ai-server itself
        persona["default"]["provider"] = "local"
        return {"personas": persona, "playback": playback}
    providers = {"cloud": {"kind": kind, "url": fake.url, "api_key": fake.key, "api_key_env": ""}}
    return {"providers": providers, "personas": persona, "playback": playback}


def first_out_after(rig, t0: float, mode: str) -> float | None:
    if mode == "file":
        plays = [r["t"] for r in rig.emu.rest_log if r["method"] == "POST" and r["path"].endswith("/play") and r["t"] >= t0]
        return min(plays, default=None)
    for leg in rig.emu.audiosocket_log:
        if leg.channel_id and leg.channel_id.endswith("-playback"):
            for f in leg.frames:
                if f["dir"] == "out" and f["t"] >= t0 and f["len"] and np.abs(np.frombuffer(f["payload"], "<i2")).max() > 50:
                    return f["t"]
    return None


def reply_starts(fake) -> list[float]:
    if isinstance(fake, FakeRealtimeServer):
        return fake.first_audio
    return [t for s in fake.sessions for t in s.first_audio]


def timed_local_fake() -> FakeRealtimeServer:
    """The fake local-ai-server, noting when each reply's first audio delta goes out."""
    from fakes import realtime_server

    fake = FakeRealtimeServer()
    fake.first_audio = []
    seen: set[str] = set()
    send = realtime_server._Session.send

    async def timed_send(self, event) -> None:
        rid = getattr(event, "response_id", None)
        if getattr(event, "type", None) == "response.output_audio.delta" and rid not in seen:
            seen.add(rid)
            fake.first_audio.append(anyio.current_time())
        await send(self, event)

    realtime_server._Session.send = timed_send
    return fake


async def one_kind(kind: str, mode: str, turns: int, calls: int) -> dict:
    fake = timed_local_fake() if kind == "local" else KINDS[kind]()
    added: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with running_rig(Path(tmp), fake=fake, **overrides(kind, fake, mode)) as rig:
            # Latency: one call, turn after turn, each reply measured from the fake's first audio.
            call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
            await call.wait_answered(10)
            await anyio.sleep(2.0)
            for _ in range(turns):
                before = len(reply_starts(fake))
                await call.say(tone(600, 600) + b"\x00" * 320 * 40)
                with anyio.move_on_after(8):
                    while len(reply_starts(fake)) <= before:
                        await anyio.sleep(0.02)
                    t_vendor = reply_starts(fake)[before]
                    while (t_out := first_out_after(rig, t_vendor, mode)) is None:
                        await anyio.sleep(0.02)
                    added.append((t_out - t_vendor) * 1000)
                await anyio.sleep(1.5)
            await call.hangup()
            await anyio.sleep(0.5)
            # CPU: `calls` calls at once, callers talking, for a fixed stretch of wall time.
            legs = [await rig.emu.place_call(exten=f"55510{i:02d}", stasis_args=["default"]) for i in range(calls)]
            for leg in legs:
                await leg.wait_answered(10)
            await anyio.sleep(1.0)
            cpu0, wall0 = time.process_time(), time.monotonic()
            for _ in range(3):
                async with anyio.create_task_group() as tg:
                    for leg in legs:
                        tg.start_soon(leg.say, tone(600, 600) + b"\x00" * 320 * 60)
                await anyio.sleep(1.0)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            for leg in legs:
                await leg.hangup()
    return {
        "kind": kind, "mode": mode, "n": len(added),
        "added_ms_p50": percentile(added, 0.5), "added_ms_p95": percentile(added, 0.95), "added_ms_max": round(max(added), 1) if added else None,
        "calls": calls, "cpu_per_call_s": round(cpu / wall / calls, 4),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench providers")
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--modes", default="stream,file")
    parser.add_argument("--kinds", default="local," + ",".join(KINDS))
    args = parser.parse_args(argv)
    setup_logging("ERROR", "console")
    rows = []
    for mode in args.modes.split(","):
        for kind in args.kinds.split(","):
            row = anyio.run(one_kind, kind, mode, args.turns, args.calls)
            rows.append(row)
            print(f"{kind:16} {mode:6} added p50 {row['added_ms_p50']} ms  p95 {row['added_ms_p95']} ms  "
                  f"max {row['added_ms_max']} ms (n={row['n']})  cpu/call {row['cpu_per_call_s'] * 100:.1f}%", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "providers.json").write_text(json.dumps(calibrated({"rows": rows, "args": vars(args)}), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
