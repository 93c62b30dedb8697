"""Soak (issue 5, "Resources"): many emulated calls with random hang-up points, then nothing left.
Run: `python -m bench soak [--calls 1000] [--concurrency 40] [--seed 1]`.

Two engines in this process, one in file mode and one in stream mode, each against its own full
Asterisk emulator, share a fake Realtime provider (tests/support/fakes/realtime_server.py: a 440 Hz
greeting, replies that echo the caller's speech). Each call goes to one of them at random and the
caller hangs up at a random point: during setup (right after Stasis), during the greeting, during
its own speech, or while the agent's reply plays (file playback, or the paced stream).
Calls run in batches of `--every` (100) with at most `--concurrency` at once; after each batch,
once the engines are idle, it records: files in the media dirs, bridges and channels left in
the emulators, live asyncio tasks beyond the baseline (by owner: engine, emulator, fake, other),
live engine objects (instances of ai_engine classes) beyond the baseline, RSS and the Python
heap (allocated blocks). The test doubles' logs of finished calls are dropped at each checkpoint
so that memory is the engine's, not the emulator's recordings.

Prints the curve and the checks, writes bench/results/soak.json. The fast version is
tests/ai_engine/integration/test_soak.py (40 calls, same scenario).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from bench.calibration import calibrated  # noqa: E402
from engine_harness import running_rig, tone  # noqa: E402
from fakes.realtime_server import FakeRealtimeServer  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
POINTS = ("setup", "greeting", "speech", "reply")  # reply = file playback or streaming, by mode
SPEECH = tone(600, 1000)
STEP_TIMEOUT_S = 8.0


# ---- one call ----------------------------------------------------------------------------


def loud(call, ms: int = 60) -> bool:
    pcm = call.heard_pcm()[-ms * 16 :]
    return bool(pcm) and int(np.abs(np.frombuffer(pcm, "<i2")).max()) > 1000


async def until(predicate, timeout: float = STEP_TIMEOUT_S) -> bool:
    """Re-check `predicate` every 20 ms (test-side polling of the caller's ears)."""
    with anyio.move_on_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)
        return True
    return False


async def soak_call(rig, point: str, rng: random.Random) -> dict:
    """One caller who hangs up at `point` (or when it never gets there)."""
    call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
    reached = False
    try:
        reached = call.stasis_status == "SUCCESS" and await _go_to(call, point, rng)
    except TimeoutError:
        pass
    finally:
        if not call.ended:
            await call.hangup()
    return {"point": point, "reached": reached, "ended": call.ended}


async def _go_to(call, point: str, rng: random.Random) -> bool:
    """Drive the caller to `point`, wait a random moment there; False if it never got there."""
    if point == "setup":  # right after StasisStart, while the engine builds the media path
        await anyio.sleep(rng.uniform(0, 0.03))
        return True
    await call.wait_answered(STEP_TIMEOUT_S)
    if not await until(lambda: loud(call)):  # the greeting is heard
        return False
    if point == "greeting":
        await anyio.sleep(rng.uniform(0, 0.3))
        return True
    if not await until(lambda: not loud(call, 200)):  # ... and over
        return False
    if point == "speech":
        await call.say(SPEECH, wait=False)
        await anyio.sleep(rng.uniform(0.1, 0.8))
        return True
    await call.say(SPEECH)
    if not await until(lambda: loud(call)):  # the reply (the caller's words echoed) plays
        return False
    await anyio.sleep(rng.uniform(0, 0.3))
    return True


# ---- checks ------------------------------------------------------------------------------


def task_owners() -> Counter:
    """Live asyncio tasks as `owner:coroutine`, the owner being the package of the coroutine."""
    owners: Counter = Counter()
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        if getattr(coro, "__qualname__", "") == "TaskHandle._run_coro" and frame is not None and "self" in frame.f_locals:
            coro = frame.f_locals["self"]._coro  # noqa: SLF001 - anyio wraps every task's coroutine
        code = getattr(coro, "cr_code", None)
        path = code.co_filename if code is not None else ""
        owner = next((o for key, o in _OWNERS if key in path), "other")
        owners[f"{owner}:{getattr(coro, '__qualname__', type(coro).__name__)}"] += 1
    return owners


_OWNERS = (("/ai_engine/", "engine"), ("/asterisk_emulator/", "emulator"), ("/fakes/", "fake"), ("/bench/", "soak"))


def engine_objects() -> Counter:
    return Counter(
        f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects() if type(o).__module__.startswith("ai_engine")
    )


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def drop_finished_recordings(rig, fake: FakeRealtimeServer) -> None:
    """The test doubles record every frame and message; keep only what live calls need."""
    pbx = rig.emu.pbx
    pbx.calls[:] = [c for c in pbx.calls if not c.ended]
    pbx.audiosocket_log.clear()
    pbx.hub.log.clear()
    rig.emu.rest_log.clear()
    for ws in rig.emu._server.websockets:  # noqa: SLF001 - every event text sent is kept there
        ws.sent.clear()
    fake.sessions.clear()
    fake._connections.clear()  # noqa: SLF001


class WarningCounter(logging.Handler):
    """Counts the engine's warning and error log events by name (call.crashed must stay 0)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.events: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.msg
        name = msg.get("event") if isinstance(msg, dict) else record.getMessage()
        self.events[f"{record.levelname.lower()}:{name}"] += 1


# ---- the soak ----------------------------------------------------------------------------


async def run_soak(
    tmp_path: Path, calls: int = 1000, concurrency: int = 40, every: int = 100, seed: int = 1, progress=None
) -> dict:
    rng = random.Random(seed)
    fake = FakeRealtimeServer(greeting_ms=500)
    limits = {"max_concurrent_calls": concurrency + 10}
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(fake.running())
        rigs = {
            "file": await stack.enter_async_context(running_rig(tmp_path / "file", provider_url=fake.url, calls=limits)),
            "stream": await stack.enter_async_context(
                running_rig(tmp_path / "stream", provider_url=fake.url, calls=limits, playback={"downstream_mode": "stream"})
            ),
        }
        gc.collect()
        base_tasks, base_objects, base_counted = task_owners(), engine_objects(), calls_counted()
        warnings = WarningCounter()
        logging.getLogger().addHandler(warnings)
        curve, outcomes, done = [], Counter(), 0
        t_start = time.monotonic()
        while done < calls:
            batch = min(every, calls - done)
            plan = [(rng.choice(("file", "stream")), rng.choice(POINTS), random.Random(rng.random())) for _ in range(batch)]
            limit = anyio.Semaphore(concurrency)

            async def run_one(mode: str, point: str, call_rng: random.Random) -> None:
                async with limit:
                    result = await soak_call(rigs[mode], point, call_rng)
                outcomes[(mode, point, "reached" if result["reached"] else "not reached")] += 1
                outcomes[("ended", result["ended"])] += 1

            async with anyio.create_task_group() as tg:
                for mode, point, call_rng in plan:
                    tg.start_soon(run_one, mode, point, call_rng)
            done += batch
            await _wait_idle(rigs)
            for rig in rigs.values():
                drop_finished_recordings(rig, fake)
            gc.collect()
            row = _checkpoint(done, rigs, base_tasks, base_objects, time.monotonic() - t_start)
            curve.append(row)
            if progress is not None:
                progress(row)
        logging.getLogger().removeHandler(warnings)
        counted = {k: v - base_counted.get(k, 0) for k, v in calls_counted().items() if v != base_counted.get(k, 0)}
    report = {
        "calls": calls,
        "concurrency": concurrency,
        "seed": seed,
        "curve": curve,
        "outcomes": _outcomes(outcomes),
        "engine_outcomes": counted,
        "warnings": dict(warnings.events),
    }
    report["checks"] = checks(report)
    return report


def calls_counted() -> dict[str, float]:
    """The engines' own count of finished calls by outcome (ai_engine_calls_total)."""
    from ai_engine.observability import metrics

    return {s.labels["outcome"]: s.value for m in metrics.CALLS.collect() for s in m.samples if s.name.endswith("_total")}


def checks(report: dict) -> dict[str, bool]:
    last = report["curve"][-1]
    finished = sum(v for k, v in report["engine_outcomes"].items() if k != "refused")
    return {
        "0 media files": last["media_files"] == 0,
        "0 bridges": last["bridges"] == 0,
        "0 engine channels": last["engine_channels"] == 0,
        "0 calls left in the engines": last["engine_calls"] == 0,
        "0 engine tasks beyond baseline": not any(k.startswith("engine:") for k in last["extra_tasks"]),
        "0 engine objects beyond baseline": not last["extra_engine_objects"],
        "every caller ended": report["outcomes"]["not_ended"] == 0,
        "every call finished in the engine": finished == report["calls"],
        "no call crashed": not any("crashed" in k for k in report["warnings"]),
    }


async def _wait_idle(rigs: dict, timeout: float = 20.0) -> None:
    await until(lambda: all(not r.engine.registry.calls and not r.engine_channels() and not r.emu.bridges
                            and (r.engine.records is None or r.engine.records.pending == 0) for r in rigs.values()),
                timeout)


def _checkpoint(done: int, rigs: dict, base_tasks: Counter, base_objects: Counter, elapsed: float) -> dict:
    tasks = task_owners()
    extra_tasks = {k: tasks[k] - base_tasks[k] for k in tasks if tasks[k] > base_tasks[k]}
    objects = engine_objects()
    extra_objects = {k: objects[k] - base_objects[k] for k in objects if objects[k] > base_objects[k]}
    return {
        "calls": done,
        "elapsed_s": round(elapsed, 1),
        "rss_mb": round(rss_mb(), 1),
        "heap_blocks": sys.getallocatedblocks(),
        "media_files": sum(len(r.media_files()) for r in rigs.values()),
        "bridges": sum(len(r.emu.bridges) for r in rigs.values()),
        "engine_channels": sum(len(r.engine_channels()) for r in rigs.values()),
        "emulator_channels": sum(len(r.emu.channels) for r in rigs.values()),
        "engine_calls": sum(len(r.engine.registry.calls) for r in rigs.values()),
        "extra_tasks": extra_tasks,
        "extra_engine_objects": extra_objects,
    }


def _outcomes(counter: Counter) -> dict:
    out: dict = {"ended": counter[("ended", True)], "not_ended": counter[("ended", False)], "points": {}}
    for key, n in counter.items():
        if key[0] in ("file", "stream"):
            mode, point, reached = key
            name = point if point != "reply" else ("playback" if mode == "file" else "streaming")
            out["points"].setdefault(f"{mode}/{name}", {})[reached] = n
    return out


# ---- command line ------------------------------------------------------------------------


def print_report(report: dict) -> None:
    print(f"{'calls':>6} {'time s':>7} {'RSS MiB':>8} {'heap blocks':>12} {'files':>6} {'bridges':>8} "
          f"{'eng chans':>9} {'eng calls':>9}  extra tasks / engine objects")
    for row in report["curve"]:
        print(f"{row['calls']:>6} {row['elapsed_s']:>7} {row['rss_mb']:>8} {row['heap_blocks']:>12} {row['media_files']:>6} "
              f"{row['bridges']:>8} {row['engine_channels']:>9} {row['engine_calls']:>9}  "
              f"{row['extra_tasks'] or '-'} / {row['extra_engine_objects'] or '-'}")
    print("\nhang-up points (reached = the caller got there before hanging up):")
    for name, counts in sorted(report["outcomes"]["points"].items()):
        print(f"  {name:<18} {counts}")
    print("(emulator:HttpServer._serve tasks serve the engines' pooled keep-alive ARI connections: at most 64 each)")
    print(f"engine outcomes: {report['engine_outcomes']}")
    print(f"engine warnings/errors: {report['warnings'] or 'none'}")
    print("\nchecks:")
    for name, ok in report["checks"].items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench soak")
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=40)
    p.add_argument("--every", type=int, default=100, help="checkpoint after this many calls")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    from ai_engine.observability.logs import setup_logging

    setup_logging("WARNING", "console")
    logging.getLogger("websockets.server").setLevel(logging.CRITICAL)  # the fake's own handler errors

    def progress(row: dict) -> None:
        print(f"[soak] {json.dumps(row)}", flush=True)

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        report = anyio.run(lambda: run_soak(Path(tmp), args.calls, args.concurrency, args.every, args.seed, progress))
    print()
    print_report(report)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "soak.json"
    out.write_text(json.dumps(calibrated(report), indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if all(report["checks"].values()) else 1
