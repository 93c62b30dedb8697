"""Voice-to-voice latency through the whole system (issue 4): Asterisk emulator → engine → real
local-ai-server with the bundled models → back to the caller, in stream and file mode.

For each of N spoken turns (espeak-ng voices, 8 kHz), the caller's end of speech (the last
speech frame it sent) to the first agent audio it hears, plus the engine's stages (from its
`turn.latency` log line: provider speech_stopped, transcript, response.created, first agent
audio received) and the server's own (x_local.turn.metrics).

  python -m bench latency [--turns N] [--modes stream,file]
Prints a table and writes bench/results/latency.json. Targets (stream, 2 cores): p50 ≤ 700 ms,
p95 ≤ 1.2 s.
"""

from __future__ import annotations

import argparse
import json
import sys

import anyio

from bench.calibration import calibrated
from bench.voice_rig import (
    QUESTIONS,
    RESULTS,
    VOICES,
    TurnLog,
    local_ai_server,
    speech_clip,
    stats,
    voice_rig,
    wait_heard,
    wait_quiet,
)

STAGES = ("speech_stopped_ms", "transcript_ms", "response_ms", "first_audio_in_ms", "total_ms")
SERVER_STAGES = ("speech_stopped_ms", "transcript_ms", "first_token_ms", "first_audio_ms")


async def run_mode(url: str, mode: str, turns: int, log: TurnLog) -> dict:
    log.turns.clear()
    log.server.clear()
    measured = []
    # Made up front: espeak-ng is synchronous and would stall the event loop mid-call.
    clips = [speech_clip(QUESTIONS[i % len(QUESTIONS)], *VOICES[i % len(VOICES)])[0] for i in range(turns)]
    async with voice_rig(url, mode, greeting="Hello, how can I help you?") as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(10)
        await wait_heard(call, call.t_answered, 20)
        await wait_quiet(call)
        for i in range(turns):
            question = QUESTIONS[i % len(QUESTIONS)]
            voice, _ = VOICES[i % len(VOICES)]
            await call.say(clips[i])
            t_end = anyio.current_time()  # say() returns once the last frame of the clip was sent
            t_heard = await wait_heard(call, t_end)
            measured.append(
                {"question": question, "voice": voice, "voice_to_voice_ms": None if t_heard is None else round((t_heard - t_end) * 1000)}
            )
            await wait_quiet(call)
        await call.hangup()
    for turn, engine in zip(measured, log.turns):
        turn["engine"] = {k: engine.get(k) for k in STAGES}
    for turn, server in zip(measured, log.server):
        turn["server"] = {k: server.get(k) for k in SERVER_STAGES}
    return {
        "turns": measured,
        "voice_to_voice_ms": stats([t["voice_to_voice_ms"] for t in measured]),
        "engine_stages_ms": {k: stats([t.get("engine", {}).get(k) for t in measured]) for k in STAGES},
        "server_stages_ms": {k: stats([t.get("server", {}).get(k) for t in measured]) for k in SERVER_STAGES},
        "answered": sum(t["voice_to_voice_ms"] is not None for t in measured),
    }


def print_table(results: dict) -> None:
    def f(v):
        return "-" if v is None else f"{v:.0f}"

    print(f"{'mode':<7} {'measure':<34} {'p50 ms':>7} {'p95 ms':>7} {'n':>4}")
    for mode, r in results.items():
        rows = [("voice-to-voice (caller's ears)", r["voice_to_voice_ms"])]
        rows += [(f"engine: {k.removesuffix('_ms')}", v) for k, v in r["engine_stages_ms"].items()]
        rows += [(f"server: {k.removesuffix('_ms')}", v) for k, v in r["server_stages_ms"].items()]
        for name, s in rows:
            print(f"{mode:<7} {name:<34} {f(s['p50']):>7} {f(s['p95']):>7} {s['n']:>4}")
        print(f"{mode:<7} answered {r['answered']}/{len(r['turns'])}")


async def run(turns: int, modes: list[str]) -> dict:
    log = TurnLog.install()
    async with local_ai_server() as url:
        return {mode: await run_mode(url, mode, turns, log) for mode in modes}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench latency")
    p.add_argument("--turns", type=int, default=20)
    p.add_argument("--modes", type=lambda v: v.split(","), default=["stream", "file"], help="comma-separated")
    args = p.parse_args(argv)
    results = anyio.run(run, args.turns, args.modes)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(calibrated(results), indent=2))
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
