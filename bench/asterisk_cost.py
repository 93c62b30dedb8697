"""Asterisk's own CPU per call for each capture/playback combination, on a REAL Asterisk (issue 11
item 6). Run: `python -m bench.asterisk_cost --asterisk-pid PID [--n 5,10] [--seconds 30]` with
the ARI password in ASTERISK_COST_ARI_PASSWORD. It does not build, ship or configure Asterisk.

What it needs on that Asterisk (besides asterisk-conf/, installed as the README says):
  [cost-caller]                          ; the caller: the ;1 half of Local/s@ai-agent-entry
  exten => s,1,Answer()
   same => n,ExecIf($["${COST_REC}" != ""]?MixMonitor(${COST_REC}-mix.wav,r(${COST_REC}-heard.wav)))
   same => n(loop),Playback(cost/speech)  ; any speech-like sound file, looped
   same => n,Goto(loop)
  [cost-peer]                            ; the reference: AudioSocket on the caller's own channel
  exten => _[0-9a-f].,1,Answer()
   same => n,AudioSocket(${EXTEN},127.0.0.1:8191)
   same => n,Hangup()

Per combination (calls.audio_transport x playback.downstream_mode) and level N: a fresh engine
(`python -m ai_engine`, echo provider so the AI side costs nothing, barge-in off, no greeting),
N callers originated through ARI (`Local/s@ai-agent-entry`, the ;1 half in cost-caller playing
speech in a loop), then over `--seconds` once all are up: Asterisk's CPU (utime+stime of its
process, /proc/<pid>/stat) minus the idle baseline, per call-second; the engine's CPU; channels
and bridges per call (GET /ari/channels, /ari/bridges); then every caller hangs up and what ARI
still lists is recorded. `peer` is the same caller with AudioSocket() straight to an echo server
(no engine, no ARI). `--verify` first places one recorded call per combination with barge-in
on: the caller's MixMonitor r() file says whether it heard the agent (Asterisk must run on this
host to read it), the engine's counter whether barge-in stopped the agent.
CPU time, not latency, is measured: it does not depend on what else runs on the machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path

import anyio
import httpx

from bench.asterisk_cost_peer import CLK_TCK, EchoPeer, heard_level, load_average, process_ticks
from bench.calibration import calibrated
from bench.engine_process import active_calls, cpu_seconds, engine_metric, free_port, start_engine, stop_engine, wait_ready

RESULTS = Path(__file__).resolve().parent / "results"
TRANSPORTS = ["snoop_fork", "snoop_externalmedia", "externalmedia_rtp", "websocket"]
MODES = ["file", "stream"]
PEER = "peer"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.asterisk_cost")
    p.add_argument("--ari-url", default="http://127.0.0.1:8088/")
    p.add_argument("--ari-user", default="ai-agent")
    p.add_argument("--asterisk-pid", type=int, required=True, help="Asterisk's process id (CPU from /proc: same host)")
    p.add_argument("--n", default="5,10", help="comma-separated numbers of concurrent calls")
    p.add_argument("--seconds", type=float, default=30.0, help="measurement window once all calls are up")
    p.add_argument("--settle", type=float, default=3.0)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--combos", default="all", help="comma-separated transport:mode (and/or `peer`), or all")
    p.add_argument("--media-dir", type=Path, required=True, help="<Asterisk sounds dir>/ai-generated (file mode)")
    p.add_argument("--audiosocket-port", type=int, default=8090, help="as in the ai-agent-media-fork dialplan")
    p.add_argument("--peer-port", type=int, default=8191, help="as in the cost-peer dialplan")
    p.add_argument("--caller-context", default="cost-caller")
    p.add_argument("--verify", action="store_true", help="one recorded call per combination first (see above)")
    p.add_argument("--record-dir", type=Path, default=Path("/tmp/asterisk-cost-rec"))
    p.add_argument("--out", type=Path, default=RESULTS / "asterisk_cost.json")
    a = p.parse_args(argv)
    a.n = [int(x) for x in a.n.split(",") if x.strip()]
    everything = [f"{t}:{m}" for t in TRANSPORTS for m in MODES] + [PEER]
    a.combos = everything if a.combos == "all" else [c.strip() for c in a.combos.split(",") if c.strip()]
    a.password = os.environ.get("ASTERISK_COST_ARI_PASSWORD", "")
    if not a.password:
        p.error("set ASTERISK_COST_ARI_PASSWORD")
    return a


def ari_client(args) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=args.ari_url.rstrip("/") + "/ari", auth=(args.ari_user, args.password), timeout=15)


async def originate(ari: httpx.AsyncClient, endpoint: str, args, rec: str = "") -> str:
    """A caller: the ;1 half runs `args.caller_context`, the ;2 half `endpoint`'s dialplan."""
    body = {"endpoint": endpoint, "context": args.caller_context, "extension": "s", "priority": 1, "formats": "ulaw",
            "callerId": '"Cost Caller" <+4930999111>', "variables": {"COST_REC": rec}}
    r = await ari.post("/channels", json=body)
    r.raise_for_status()
    return r.json()["id"]


async def inventory(ari: httpx.AsyncClient) -> dict:
    chans = (await ari.get("/channels")).json()
    bridges = (await ari.get("/bridges")).json()
    kinds = collections.Counter(c["name"].split("/", 1)[0] for c in chans)
    return {"channels": len(chans), "bridges": len(bridges), "kinds": dict(sorted(kinds.items())),
            "bridge_technologies": dict(collections.Counter(b["technology"] for b in bridges))}


async def hang_up(ari: httpx.AsyncClient, callers: list[str]) -> None:
    for cid in callers:
        await ari.delete(f"/channels/{cid}")  # 404 when already gone


async def wait_for(pred, timeout: float) -> bool:
    with anyio.move_on_after(timeout):
        while not await pred():
            await anyio.sleep(0.2)
        return True
    return False


def engine_env(args, transport: str, mode: str, http_port: int, token: str, n: int, barge_in: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AI_ENGINE_", "LOCAL_AI_", "ASTERISK_COST_"))}
    here = Path(__file__).resolve().parent  # asterisk_cost_echo/: the echo in one-second replies (file mode plays)
    env["PYTHONPATH"] = os.pathsep.join([str(here / "asterisk_cost_echo")] + [str(here.parent / d) for d in (
        "ai-engine/src", "packages/realtime-protocol/src", "packages/voice-common/src")]) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(
        AI_ENGINE_ARI__URL=args.ari_url, AI_ENGINE_ARI__USERNAME=args.ari_user, AI_ENGINE_ARI__PASSWORD=args.password,
        AI_ENGINE_API__TOKEN=token, AI_ENGINE_AUDIOSOCKET__PORT=str(args.audiosocket_port),
        AI_ENGINE_HTTP__PORT=str(http_port), AI_ENGINE_PLAYBACK__MEDIA_DIR=str(args.media_dir),
        AI_ENGINE_PLAYBACK__DOWNSTREAM_MODE=mode, AI_ENGINE_CALLS__AUDIO_TRANSPORT=transport,
        AI_ENGINE_PROVIDERS=json.dumps({"local": {"kind": "echo", "health_url": None}}),
        AI_ENGINE_PERSONAS=json.dumps({"default": {"greeting": ""}}),
        AI_ENGINE_BARGE_IN__ENABLED="true" if barge_in else "false",
        AI_ENGINE_CALLS__MAX_CONCURRENT_CALLS=str(n + 4), AI_ENGINE_CALLS__SETUP_TIMEOUT_S="15",
    )
    return env


async def window(args, pids: dict[str, int]) -> dict:
    """CPU seconds per second of each process over `args.seconds`."""
    t0, c0 = time.monotonic(), {k: process_ticks(p) for k, p in pids.items()}
    await anyio.sleep(args.seconds)
    t1, c1 = time.monotonic(), {k: process_ticks(p) for k, p in pids.items()}
    return {"wall_s": round(t1 - t0, 2), **{f"{k}_cpu_s": round((c1[k] - c0[k]) / CLK_TCK, 3) for k in pids},
            "loadavg": load_average()}


async def run_idle(args) -> dict:
    w = await window(args, {"asterisk": args.asterisk_pid})
    return {"combo": "idle", "n": 0, **w, "asterisk_idle_cores": round(w["asterisk_cpu_s"] / w["wall_s"], 4)}


def _per_call(result: dict, idle_cores: float) -> dict:
    n, wall = result["n"], result["wall_s"]
    ast = result["asterisk_cpu_s"] / wall - idle_cores
    result["asterisk_ms_per_call_s"] = round(ast / n * 1000, 1)
    if "engine_cpu_s" in result:
        result["engine_ms_per_call_s"] = round(result["engine_cpu_s"] / wall / n * 1000, 1)
    return result


async def run_peer(args, n: int, idle_cores: float, rec: str = "") -> dict:
    async with ari_client(args) as ari, EchoPeer("127.0.0.1", args.peer_port) as peer:
        callers = [await originate(ari, f"Local/{uuid.uuid4()}@cost-peer", args, rec) for _ in range(n)]
        up = await wait_for(lambda: _true(peer.connections >= n), 15)
        await anyio.sleep(args.settle)
        inv = await inventory(ari)
        w = await window(args, {"asterisk": args.asterisk_pid})
        await hang_up(ari, callers)
        clean = await wait_for(lambda: _empty(ari), 15)
        left = await inventory(ari)
    return _per_call({"combo": PEER, "n": n, "all_up": up, **w, **_counts(inv, n), "clean_after_hangup": clean,
                      "left_after_hangup": left, "echo_frames": peer.frames}, idle_cores)


async def _true(v: bool) -> bool:
    return v


async def _empty(ari: httpx.AsyncClient) -> bool:
    inv = await inventory(ari)
    return inv["channels"] == 0 and inv["bridges"] == 0


def _counts(inv: dict, n: int) -> dict:
    return {"channels_per_call": round(inv["channels"] / n, 2), "bridges_per_call": round(inv["bridges"] / n, 2),
            "channel_kinds": inv["kinds"], "bridge_technologies": inv["bridge_technologies"]}


async def run_engine(args, combo: str, n: int, idle_cores: float, rec: str = "", barge_in: bool = False) -> dict:
    transport, mode = combo.split(":")
    token, http_port = secrets.token_hex(8), free_port()
    env = engine_env(args, transport, mode, http_port, token, n, barge_in)
    with tempfile.TemporaryDirectory(prefix="asterisk-cost-") as tmp:
        log_path = RESULTS / f"asterisk_cost_engine_{transport}_{mode}{'_verify' if rec else ''}{'_barge' if barge_in else ''}.log"
        proc = start_engine(env, Path(tmp), log_path, None)
        try:
            async with ari_client(args) as ari, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{http_port}", headers={"Authorization": f"Bearer {token}"}, timeout=15
            ) as http:
                await wait_ready(http, proc)
                callers = [await originate(ari, "Local/s@ai-agent-entry", args, rec) for _ in range(n)]
                up = await wait_for(lambda: _calls_are(http, n), 30)
                await anyio.sleep(args.settle)
                inv = await inventory(ari)
                w = await window(args, {"asterisk": args.asterisk_pid, "engine": proc.pid})
                barge_ins = await _barge_ins(http)
                await hang_up(ari, callers)
                clean = await wait_for(lambda: _gone(ari, http), 20)
                left = {**await inventory(ari), "engine_calls": await active_calls(http)}
        finally:
            await stop_engine(proc)
    errors = sum('"level": "error"' in line for line in log_path.read_text(errors="replace").splitlines())
    return _per_call({"combo": combo, "transport": transport, "mode": mode, "n": n, "all_up": up, **w, **_counts(inv, n),
                      "barge_ins": barge_ins, "engine_errors": errors, "clean_after_hangup": clean,
                      "left_after_hangup": left}, idle_cores)


async def _calls_are(http: httpx.AsyncClient, n: int) -> bool:
    return await active_calls(http) >= n


async def _gone(ari, http) -> bool:
    return await _empty(ari) and await active_calls(http) == 0


async def _barge_ins(http: httpx.AsyncClient) -> int:
    text = (await http.get("/metrics")).text
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("ai_engine_barge_ins_total{")))


async def verify(args, combo: str) -> dict:
    """One recorded call (did the caller hear the agent, was nothing left), then for the engine one
    with barge-in on (the echo talks over the caller: barge-in must stop it, and nothing be left)."""
    args.record_dir.mkdir(parents=True, exist_ok=True)
    rec = str(args.record_dir / combo.replace(":", "-"))
    saved, args.seconds = args.seconds, 10.0
    try:
        result = await (run_peer(args, 1, 0.0, rec) if combo == PEER else run_engine(args, combo, 1, 0.0, rec))
        if combo != PEER:
            barge = await run_engine(args, combo, 1, 0.0, barge_in=True)
            result["barge_in_check"] = {k: barge[k] for k in ("barge_ins", "engine_errors", "clean_after_hangup", "left_after_hangup")}
    finally:
        args.seconds = saved
    await anyio.sleep(1.0)  # MixMonitor closes its files after the hang-up
    heard = Path(rec + "-heard.wav")
    result["heard"] = heard_level(heard) if heard.exists() else None
    return result


def print_table(rows: list[dict]) -> None:
    print(f"{'combination':<28}{'N':>4}{'ast ms/call-s':>15}{'engine ms/call-s':>18}{'chan/call':>11}{'bridges/call':>14}"
          f"{'clean':>7}  loadavg")
    for r in rows:
        if r["combo"] == "idle":
            print(f"{'idle baseline':<28}{0:>4}{r['asterisk_idle_cores'] * 1000:>13.1f}/s  {'':>18}  {r['loadavg']}")
            continue
        print(f"{r['combo']:<28}{r['n']:>4}{r['asterisk_ms_per_call_s']:>15.1f}{r.get('engine_ms_per_call_s', 0):>18.1f}"
              f"{r['channels_per_call']:>11}{r['bridges_per_call']:>14}{str(r['clean_after_hangup']):>7}  {r['loadavg']}")


async def amain(args) -> dict:
    RESULTS.mkdir(exist_ok=True)
    checks, rows = [], []
    if args.verify:
        for combo in args.combos:
            print(f"[asterisk_cost] verify {combo} ...", flush=True)
            checks.append(await verify(args, combo))
            print(f"[asterisk_cost]   {json.dumps(checks[-1])}", flush=True)
    for rep in range(args.repeat):
        idle = await run_idle(args)
        rows.append({**idle, "repeat": rep})
        for n in args.n:
            for combo in args.combos:  # interleaved: drift of the machine hits every combination alike
                print(f"[asterisk_cost] repeat {rep} N={n} {combo} ...", flush=True)
                base = idle["asterisk_idle_cores"]
                row = await (run_peer(args, n, base) if combo == PEER else run_engine(args, combo, n, base))
                rows.append({**row, "repeat": rep})
                print(f"[asterisk_cost]   {json.dumps(row)}", flush=True)
    return {"benchmark": "asterisk_cost", "clk_tck": CLK_TCK, "window_s": args.seconds, "settle_s": args.settle,
            "verify": checks, "runs": rows}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    result = anyio.run(amain, args)
    print_table(result["runs"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(calibrated(result), indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
