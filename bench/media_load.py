"""Media-path load (issue 5): N concurrent calls streaming both ways through the engine with the
`echo` provider. Run: `python -m bench media_load [--n 10,100] [--seconds 10] [--generator lean|full]`.

Per level N: a fresh engine process (`python -m ai_engine`, configured by environment: echo
provider, stream mode, no greeting, barge-in off) pinned to CPU 0, and this process, pinned to
CPU 1, playing Asterisk: the lean generator (bench/load_asterisk.py, default) or the full test
emulator (`--generator full`, which mixes every bridge in Python and is itself the bottleneck at a
few hundred calls: see the note printed with the table). Every caller sends a numbered 20 ms frame
every 20 ms; the engine echoes it on the call's stream-mode playback leg, paced at 20 ms.

Scheduling: the engine (from its start) and this generator (during each measurement window) run
under SCHED_FIFO (when root; as Asterisk itself runs with `-p`), so that on a shared machine other
work cannot hold the engine off its core for a frame or two: jitter then measures the engine, not
the neighbours, and call set-up does not starve. CPU per call does not depend on it. `--no-realtime` measures at nice -10 only. A level that misses the target ends
the run (`--no-stop-after-miss` runs every level).

One engine process takes all calls: calls per core is N / engine cores. `--engines K` starts K
engine processes instead, each its own Stasis app (`ai-agent`, `ai-agent-2`, ...: one engine per
app name, FACT 40) and ports, all pinned to the engine CPU, and spreads the calls over them in turn
(as the dialplan of docs/scaling.md would): calls per core for the whole is N / their summed cores.

Measured over `--seconds` once all calls are up and settled:
  cpu/call     engine CPU seconds (/proc/<pid>/stat, all threads) per call per wall second
  rss/call     (engine RSS with N calls - RSS before the first call) / N
  fps/call     frames per second each call's playback leg received (50 when the engine keeps up)
  jitter       |inter-arrival - 20 ms| of the engine's frames on the playback legs, timestamped
               on receipt by the generator: p50, p99, max
  late         frames arriving more than 40 ms after the previous one (a 20 ms slot missed)
  lost         caller frames never echoed (gaps in the sequence numbers)
  silent       silence frames after the echo had started (the engine had nothing to send)
  underruns    the engine's own count (ai_engine_stream_underruns_total)
  latency      caller frame sent -> its echo received, p50 / p99
  gen cpu, lag the generator's own CPU use and how late its sub-ticks ran (p99): if these are
               high the jitter figures include the generator's delays

Prints a table, writes bench/results/media_load.json (media_load_full.json for the full emulator)
and the engine's log of the last level to bench/results/media_load_engine.log. `calibration_ms` (a
fixed pure-Python workload timed on the engine's CPU, at its priority, before each level's calls
start; bench/calibration.py) shows how fast the machine was: on a shared VM it drifts, so compare builds interleaved.
MEDIA_LOAD_ENGINE_ENV='{"PYTHONPATH": "..."}' adds to the engine's environment (e.g. another engine
build, or a profiler hook) for such comparisons.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx

from bench.calibration import calibrated
from bench.engine_process import (
    CAN_PIN,
    ENGINE_CPU,
    GENERATOR_CPU,
    PRIORITY,
    RT_PRIORITY,
    EngineGroup,
    busy_seconds,
    engine_cpu_calibration,
    free_port,
    pin,
    start_engine,
    stop_engine,
)
from bench.load_asterisk import LeanEmulator
from bench.media_generators import WHY_FULL, WHY_LEAN, FullGenerator, LeanGenerator
from bench.media_report import meets_target, pct, print_table, stalls, verdict
from asterisk_emulator import AsteriskEmulator

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = [10, 100, 250, 500, 1000]
PASSWORD = "bench-ari-password-7f3a"
API_TOKEN = "bench-api-token-7f3a"  # /health shows ari_connected and active_calls only with it


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench media_load")
    p.add_argument("--n", default=",".join(map(str, LEVELS)), help="comma-separated call counts")
    p.add_argument("--seconds", type=float, default=10.0, help="measurement window per level")
    p.add_argument("--settle", type=float, default=3.0, help="wait after the last call is up")
    p.add_argument("--generator", choices=["lean", "full"], default="lean")
    p.add_argument(
        "--transport",
        default="audiosocket",
        help="comma-separated: audiosocket (snoop + Local fork, externalMedia AudioSocket playback), rtp "
        "(externalMedia RTP, slin), websocket (chan_websocket, slin); lean generator only for rtp/websocket",
    )
    p.add_argument("--ramp", type=int, default=25, help="calls being set up at once")
    p.add_argument("--ramp-timeout", type=float, default=120.0, help="stop setting up calls after this long")
    p.add_argument("--phases", type=int, default=10, help="lean generator: sub-ticks per 20 ms")
    p.add_argument("--engines", type=int, default=1, help="engine processes sharing the calls (one app name each)")
    p.add_argument("--profile", action="store_true", help="run the engine under cProfile (slower)")
    p.add_argument("--stop-after-miss", action=argparse.BooleanOptionalAction, default=True,
                   help="skip the higher levels once one misses the target (they would only saturate)")
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=True,
                   help="during each measurement window, run engine and generator under SCHED_FIFO (root; as "
                        "Asterisk runs with -p), so other work on a shared machine delays them less (the kernel "
                        "still leaves it 5%% of each CPU); --no-realtime: nice -10 only")
    args = p.parse_args(argv)
    args.n = [int(x) for x in str(args.n).split(",") if x.strip()]
    args.transport = [t.strip() for t in str(args.transport).split(",") if t.strip()]
    unknown = set(args.transport) - set(TRANSPORTS)
    if unknown:
        p.error(f"unknown transport(s) {sorted(unknown)}; choose from {sorted(TRANSPORTS)}")
    return args


# Engine settings per transport: all slin (8 kHz) so the generator's numbered frames survive the echo.
TRANSPORTS = {
    "audiosocket": {},
    "rtp": {
        "AI_ENGINE_CALLS__AUDIO_TRANSPORT": "externalmedia_rtp",
        "AI_ENGINE_RTP__FORMAT": "slin",
    },
    "websocket": {"AI_ENGINE_CALLS__AUDIO_TRANSPORT": "websocket", "AI_ENGINE_WEBSOCKET__FORMAT": "slin"},
}


# ---- the engine's settings -----------------------------------------------------------------


RTP_PORTS_PER_ENGINE = 5000  # engine i (from 0) takes UDP ports 40000 + 5000·i .. 44999 + 5000·i


def engine_app(i: int) -> str:
    """The Stasis app of engine i (from 0): ai-agent, ai-agent-2, ..."""
    return "ai-agent" if i == 0 else f"ai-agent-{i + 1}"


def engine_env(ari_url: str, as_port: int, http_port: int, media_dir: Path, n: int, transport: str = "audiosocket",
               index: int = 0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AI_ENGINE_", "LOCAL_AI_"))}
    app = engine_app(index)
    env.update(
        AI_ENGINE_ARI__URL=ari_url,
        AI_ENGINE_ARI__APP=app,
        AI_ENGINE_RECORDS__DATA_DIR=f"data-{app}",  # relative to the engine's working folder, one per engine
        AI_ENGINE_ARI__PASSWORD=PASSWORD,
        AI_ENGINE_API__TOKEN=API_TOKEN,
        AI_ENGINE_AUDIOSOCKET__PORT=str(as_port),
        AI_ENGINE_HTTP__PORT=str(http_port),
        AI_ENGINE_PLAYBACK__MEDIA_DIR=str(media_dir),
        AI_ENGINE_PLAYBACK__DOWNSTREAM_MODE="stream",
        AI_ENGINE_PROVIDERS=json.dumps({"local": {"kind": "echo", "health_url": None}}),
        AI_ENGINE_PERSONAS=json.dumps({"default": {"greeting": ""}}),
        AI_ENGINE_BARGE_IN__ENABLED="false",
        AI_ENGINE_CALLS__MAX_CONCURRENT_CALLS=str(n + 16),
        AI_ENGINE_CALLS__SETUP_TIMEOUT_S="15",
        AI_ENGINE_ARI__REQUEST_TIMEOUT_S="15",
    )
    env.update(TRANSPORTS[transport])
    if transport == "rtp":
        first = 40000 + RTP_PORTS_PER_ENGINE * index
        env.update(AI_ENGINE_RTP__PORT_START=str(first), AI_ENGINE_RTP__PORT_END=str(first + RTP_PORTS_PER_ENGINE - 1))
    env.update(json.loads(os.environ.get("MEDIA_LOAD_ENGINE_ENV", "{}")))  # diagnosis: extra engine environment
    return env


# ---- one level ----------------------------------------------------------------------------


async def run_level(n: int, args: argparse.Namespace, transport: str = "audiosocket") -> dict:
    with tempfile.TemporaryDirectory(prefix="media_load-") as tmp:
        tmp_path = Path(tmp)
        media_dir = tmp_path / "sounds" / "ai-generated"
        media_dir.mkdir(parents=True)
        k = max(1, args.engines)
        apps = [engine_app(i) for i in range(k)]
        as_ports, http_ports = [free_port() for _ in apps], [free_port() for _ in apps]
        emu_kwargs = dict(password=PASSWORD, audiosocket_address=("127.0.0.1", as_ports[0]), sounds_dir=tmp_path / "sounds")
        if args.generator == "lean":
            emu = LeanEmulator(phases=args.phases, **emu_kwargs)
        else:
            emu = AsteriskEmulator(**emu_kwargs)
        async with emu:
            gen = LeanGenerator(emu) if args.generator == "lean" else FullGenerator(emu, 120)
            profile = RESULTS / "media_load_engine.prof" if args.profile else None
            procs = []
            try:
                for i in range(k):
                    env = engine_env(emu.ari_url, as_ports[i], http_ports[i], media_dir, n, transport, i)
                    procs.append(start_engine(env, tmp_path, _engine_log(i), profile if i == 0 else None))
                async with AsyncExitStack() as stack:
                    https = [await stack.enter_async_context(httpx.AsyncClient(
                        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30))
                        for port in http_ports]
                    engines = EngineGroup(apps, procs, https)
                    return {"transport": transport, "engines": k, **await _measure(n, args, emu, gen, engines)}
            finally:
                for proc in procs:
                    await stop_engine(proc)


def _engine_log(i: int) -> Path:
    return RESULTS / ("media_load_engine.log" if i == 0 else f"media_load_engine-{i + 1}.log")


async def _measure(n, args, emu, gen, engines: EngineGroup) -> dict:
    await engines.wait_ready()
    # Real-time priority for the engine from here (its call set-up would otherwise starve on a busy
    # machine and the ramp time out); for the generator only in the window (it shares CPU 1 with the rest).
    engines.pin(ENGINE_CPU, args.realtime)
    calibration = engine_cpu_calibration(args.realtime)
    await anyio.sleep(0.5)
    rss_base = engines.rss_mb()
    up = 0
    limit = anyio.Semaphore(args.ramp)
    t_ramp = time.monotonic()

    async def place(i: int) -> None:
        nonlocal up
        async with limit:
            call = await emu.place_call(exten=f"{5550000 + i}", stasis_args=["default"], timeout=30, app=engines.app_for(i))
            if call.stasis_status != "SUCCESS":
                return
            await gen.on_placed(call)
            with anyio.move_on_after(60):  # an overloaded machine sets calls up slowly
                await gen.wait_echo(call)
                up += 1

    with anyio.move_on_after(args.ramp_timeout):  # an overloaded engine sets calls up slowly
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(place, i)
    ramp_s = time.monotonic() - t_ramp
    gc.collect()
    gc.freeze()
    gc.disable()  # the generator's own collector must not delay timestamps in the window
    await anyio.sleep(args.settle)

    engines.pin(ENGINE_CPU, args.realtime)  # threads started since launch too
    pin(0, GENERATOR_CPU, args.realtime)
    underruns0 = await engines.metric("ai_engine_stream_underruns_total")
    cpu0, gen0, busy0, t0 = engines.cpu_seconds(), os.times(), busy_seconds(), time.monotonic()
    gen.start()
    t_window = anyio.current_time()
    await anyio.sleep(args.seconds)
    rec = gen.stop()
    pin(0, GENERATOR_CPU)  # the window is over: no more real-time priority (hang-ups, next level)
    engines.pin(ENGINE_CPU)
    gc.enable()
    gc.unfreeze()
    cpu1, gen1, busy1, t1 = engines.cpu_seconds(), os.times(), busy_seconds(), time.monotonic()
    rss = engines.rss_mb()
    wall = t1 - t0
    underruns = await engines.metric("ai_engine_stream_underruns_total") - underruns0
    engine_calls = await engines.active_calls()

    for call in list(emu.calls):  # everyone hangs up
        if not call.ended:
            emu.pbx.caller_hangup(call)
    with anyio.move_on_after(60):
        while await engines.active_calls() or emu.channels or emu.bridges:
            await anyio.sleep(0.2)
    log_text = "".join(_engine_log(i).read_text(errors="replace") for i in range(len(engines.procs)))
    engine_cpu = (cpu1 - cpu0) / wall
    gen_cpu = (gen1.user + gen1.system - gen0.user - gen0.system) / wall
    machine_busy = (busy1["cpu"] - busy0["cpu"]) / wall
    engine_core = f"cpu{ENGINE_CPU}"
    return {
        "n": n,
        "calibration_ms": calibration,
        "set_up": up,
        "engine_calls": engine_calls,
        "ramp_s": round(ramp_s, 1),
        "window_s": round(wall, 2),
        "engine_cpu_cores": round(engine_cpu, 3),
        "cpu_per_call_ms_per_s": round(engine_cpu / max(engine_calls, 1) * 1000, 3),  # per call it had
        "rss_base_mb": round(rss_base, 1),
        "rss_mb": round(rss, 1),
        "rss_per_call_kb": round((rss - rss_base) * 1024 / n, 1),
        "frames": rec.frames,
        "fps_per_call": round(rec.frames / max(up, 1) / wall, 1),  # 50 when the engine keeps up
        "jitter_p50_ms": pct(rec.deviation, 50),
        "jitter_p99_ms": pct(rec.deviation, 99),
        "jitter_max_ms": pct(rec.deviation, 100),
        "late": rec.late,
        "lost": rec.lost,
        "silent": rec.silent,
        "underruns": int(underruns),
        "latency_p50_ms": pct(rec.latency, 50),
        "latency_p99_ms": pct(rec.latency, 99),
        "pacing_resets": sum(int(k) for k in re.findall(r'"resets": (\d+)', log_text)),
        "engine_errors": len(re.findall(r'"level": "error"', log_text)),
        "generator_cpu_cores": round(gen_cpu, 3),
        "other_load_cores": round(max(0.0, machine_busy - engine_cpu - gen_cpu), 2),
        "engine_cpu_busy": round((busy1.get(engine_core, 0) - busy0.get(engine_core, 0)) / wall, 2),
        "generator_lag_p99_ms": pct(rec.tick_lag, 99),
        "generator_lag_max_ms": pct(rec.tick_lag, 100),
        "stalls": [{**st, "t": round(st["t"] - t_window, 2)} for st in stalls(rec.late_at, n)],
        "generator_skipped_ticks": gen.skipped_ticks,
        "left_after_hangup": {
            "engine_calls": await engines.active_calls(),
            "channels": len(emu.channels),
            "bridges": len(emu.bridges),
        },
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    pin(0, GENERATOR_CPU)
    levels = []
    missed: set[str] = set()  # transports whose last level missed the target
    for n in args.n:
        for transport in args.transport:  # interleaved: the machine's drift hits every transport alike
            if args.stop_after_miss and transport in missed:
                print(f"[media_load] N={n} {transport} skipped: a lower N missed the target already", flush=True)
                continue
            print(f"[media_load] N={n} {transport} ({args.generator} generator) ...", flush=True)
            level = anyio.run(run_level, n, args, transport)
            print(f"[media_load]   {json.dumps(level)}", flush=True)
            levels.append(level)
            if not meets_target(level):
                missed.add(transport)
    why = WHY_LEAN if args.generator == "lean" else WHY_FULL
    print(f"\nGenerator: {why}.")
    full = RESULTS / "media_load_full.json"
    if args.generator == "lean" and full.exists():
        print("Why not the full emulator (" + "; ".join(
            f"N={lv['n']}: {lv['generator_cpu_cores']:.2f} cores, {lv['generator_skipped_ticks']} skipped 20 ms ticks"
            for lv in json.loads(full.read_text())["levels"]) + ", from media_load_full.json): it would be the bottleneck.")
    sched = f"SCHED_FIFO {RT_PRIORITY}" if args.realtime else f"nice {PRIORITY}"
    engines = "Engine" if args.engines <= 1 else f"{args.engines} engine processes (calls spread in turn)"
    print(f"{engines} pinned to CPU {ENGINE_CPU}, generator to CPU {GENERATOR_CPU} ({sched}); echo provider, stream mode.\n")
    print_table(levels)
    summary = verdict([lv for lv in levels if lv["transport"] == args.transport[0]])
    print(f"\nTarget {summary['target']}: {'met' if summary['met'] else 'NOT met'}; "
          f"largest N meeting p99 on one core: {summary['max_calls_meeting_p99_on_one_core']}; "
          f"CPU-bound estimate: {summary['cpu_bound_calls_per_core']} calls per core.")
    out = RESULTS / ("media_load.json" if args.generator == "lean" else "media_load_full.json")
    result = {
        "benchmark": "media_load",
        "generator": args.generator,
        "generator_note": why,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "pinning": {"engine_cpu": ENGINE_CPU, "generator_cpu": GENERATOR_CPU, "pinned": CAN_PIN,
                    "scheduler": f"SCHED_FIFO {RT_PRIORITY}" if args.realtime else f"nice {PRIORITY}"},
        "window_s": args.seconds,
        "engines": args.engines,
        "transports": args.transport,
        "levels": levels,
        "summary": summary,
    }
    if args.generator == "lean" and full.exists():
        result["full_emulator_generator"] = [
            {k: lv[k] for k in ("n", "generator_cpu_cores", "generator_skipped_ticks", "engine_cpu_cores", "jitter_p99_ms")}
            for lv in json.loads(full.read_text())["levels"]
        ]
    out.write_text(json.dumps(calibrated(result), indent=2) + "\n")
    print(f"wrote {out}")
    return 0
