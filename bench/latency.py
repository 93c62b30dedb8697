"""Voice-to-voice latency through the whole system (issues 4 and 15): Asterisk emulator → engine →
real local-ai-server with the bundled models → back to the caller, in stream and file mode.

For each of N spoken turns (8 kHz; espeak-ng voices, or with `--caller piper` the bundled Piper
voice: bench/caller_voices.py), the caller's end of speech (the last
speech frame it sent) to the first agent audio it hears, plus the engine's stages (from its
`turn.latency` log line: provider speech_stopped, transcript, response.created, first agent
audio received), the server's own (x_local.turn.metrics) and the per-turn breakdown of the wait
(`turn.breakdown`: end-of-turn wait, STT, LLM first token, first sentence TTS, engine/transport;
with speculative work STT and LLM overlap the end-of-turn wait, so the parts need not add up).

`--concurrency N`: N calls at once; in each round every caller asks a question, timed so that
all N questions end within 100 ms of each other (a round starts once every caller heard the
previous answer out; each clip starts at the round's t0 plus the longest clip's length minus its
own), and waits for its answer; `--turns` rounds. The spread achieved is measured (the callers'
last sent frame) and printed: worst round and median round.

  python -m bench latency [--turns N] [--modes stream,file] [--concurrency 1,2,4,8] [--caller espeak|piper]
Prints a table and writes bench/results/latency.json (with the load average). Targets (2 cores):
one caller p50 ≤ 500 ms, p95 ≤ 800 ms; four callers p95 ≤ 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import anyio

from bench.calibration import calibrated
from bench.caller_voices import CALLERS, clip
from bench.voice_rig import (
    QUESTIONS,
    RESULTS,
    TurnLog,
    local_ai_server,
    stats,
    voice_rig,
    wait_heard,
    wait_quiet,
)

STAGES = ("speech_stopped_ms", "transcript_ms", "response_ms", "first_audio_in_ms", "total_ms")
SERVER_STAGES = ("speech_stopped_ms", "transcript_ms", "first_token_ms", "first_audio_ms")
BREAKDOWN = ("end_of_turn_wait_ms", "stt_ms", "llm_first_token_ms", "first_sentence_tts_ms", "engine_transport_ms")
ALIGN_S = 0.1  # the questions of one round end within this of each other


class Rounds:
    """Lines the callers' questions up: a round starts once every caller has heard the previous
    answer out (`arrive`); then each caller starts speaking at `t0 + longest - its clip's length`,
    so all questions of the round end at `t0 + longest` (within the mixer's 20 ms ticks)."""

    LEAD_S = 0.3  # from the last arrival to t0: every caller is waiting by then

    def __init__(self, callers: int, rounds: int) -> None:
        self.callers = callers
        self._arrived = [0] * rounds
        self._go = [anyio.Event() for _ in range(rounds)]
        self.t0 = [0.0] * rounds

    def arrive(self, r: int) -> None:
        self._arrived[r] += 1
        if self._arrived[r] == self.callers:
            self.t0[r] = anyio.current_time() + self.LEAD_S
            self._go[r].set()

    async def start_at(self, r: int, offset: float) -> None:
        """Wait for round `r` to start, then until `offset` seconds after its t0."""
        await self._go[r].wait()
        await anyio.sleep(max(0.0, self.t0[r] + offset - anyio.current_time()))


async def _answer_done(log: TurnLog, call_id: str | None, seen: int, timeout: float = 30.0) -> None:
    """Until the server's metrics of this call's turn came (they follow its whole answer): a turn
    that began with the admission filler may have a pause between the filler and the answer,
    which a quiet caller must not take for the end of the answer."""
    deadline = anyio.current_time() + timeout
    while call_id and anyio.current_time() < deadline and sum(s.get("call_id") == call_id for s in log.server) <= seen:
        await anyio.sleep(0.1)


async def _caller(rig, k: int, turns: int, clips: list[tuple[bytes, float]], longest: list[float],
                  measured: list[dict], rounds: Rounds, log: TurnLog) -> None:
    call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
    try:
        await call.wait_answered(20)
        call_id = next((c.id for c in rig.engine.registry.calls.values() if c.caller_id == call.channel_id), None)
        await wait_heard(call, call.t_answered, 30)
        await wait_quiet(call)
        for r in range(turns):
            rounds.arrive(r)  # heard the greeting / the previous answer out
            i = (r + k) % len(clips)
            clip, length = clips[i]
            await rounds.start_at(r, longest[r] - length)  # all questions of the round end together
            seen = sum(s.get("call_id") == call_id for s in log.server)
            await call.say(clip)
            t_end = anyio.current_time()  # say() returns once the last frame of the clip was sent
            t_heard = await wait_heard(call, t_end)
            measured.append({"round": r, "caller": k, "question": QUESTIONS[i % len(QUESTIONS)], "t_end": t_end,
                             "voice_to_voice_ms": None if t_heard is None else round((t_heard - t_end) * 1000)})
            await _answer_done(log, call_id, seen)
            await wait_quiet(call)
    finally:
        await call.hangup()


async def run_mode(url: str, mode: str, turns: int, log: TurnLog, concurrency: int = 1, caller: str = "espeak") -> dict:
    log.turns.clear()
    log.server.clear()
    log.breakdown.clear()
    measured: list[dict] = []
    # Made up front: speech synthesis is synchronous and would stall the event loop mid-call.
    n = max(turns, concurrency) + concurrency
    clips = [clip(caller, QUESTIONS[i % len(QUESTIONS)], i) for i in range(n)]
    longest = [max(clips[(r + k) % len(clips)][1] for k in range(concurrency)) for r in range(turns)]
    async with voice_rig(url, mode, greeting="Hello, how can I help you?") as rig:
        rounds = Rounds(concurrency, turns)
        async with anyio.create_task_group() as tg:
            for k in range(concurrency):
                tg.start_soon(_caller, rig, k, turns, clips, longest, measured, rounds, log)
    ends: dict[int, list[float]] = {}
    for m in measured:
        ends.setdefault(m["round"], []).append(m.pop("t_end"))
    spreads = [round((max(v) - min(v)) * 1000) for _, v in sorted(ends.items())]
    if concurrency == 1:  # the log lines are in call order only with one caller
        for turn, engine in zip(measured, log.turns):
            turn["engine"] = {k: engine.get(k) for k in STAGES}
        for turn, server in zip(measured, log.server):
            turn["server"] = {k: server.get(k) for k in SERVER_STAGES}
    return {
        "concurrency": concurrency,
        "caller": caller,
        "question_end_spread_ms": max(spreads, default=0),  # the worst round
        "question_end_spread_per_round_ms": spreads,
        "turns": measured,
        "voice_to_voice_ms": stats([t["voice_to_voice_ms"] for t in measured]),
        "engine_stages_ms": {k: stats([t.get(k) for t in log.turns]) for k in STAGES},
        "server_stages_ms": {k: stats([t.get(k) for t in log.server]) for k in SERVER_STAGES},
        "breakdown_ms": {k: stats([t.get(k) for t in log.breakdown]) for k in BREAKDOWN},
        "answered": sum(t["voice_to_voice_ms"] is not None for t in measured),
    }


def print_table(results: dict) -> None:
    def f(v):
        return "-" if v is None else f"{v:.0f}"

    print(f"load average {' '.join(results.get('loadavg', []))}; caller voice {results.get('caller', 'espeak')}")
    print(f"{'run':<10} {'measure':<36} {'p50 ms':>7} {'p95 ms':>7} {'n':>4}")
    for name, r in results.items():
        if not isinstance(r, dict) or "turns" not in r:
            continue
        rows = [("voice-to-voice (caller's ears)", r["voice_to_voice_ms"])]
        rows += [(f"breakdown: {k.removesuffix('_ms')}", v) for k, v in r["breakdown_ms"].items()]
        rows += [(f"engine: {k.removesuffix('_ms')}", v) for k, v in r["engine_stages_ms"].items()]
        rows += [(f"server: {k.removesuffix('_ms')}", v) for k, v in r["server_stages_ms"].items()]
        for label, s in rows:
            print(f"{name:<10} {label:<36} {f(s['p50']):>7} {f(s['p95']):>7} {s['n']:>4}")
        print(f"{name:<10} answered {r['answered']}/{len(r['turns'])}, {r.get('fillers', 0)} began with the filler"
              + (f", questions ended within {r['question_end_spread_ms']} ms of each other (worst round; "
                 f"median round {stats(r['question_end_spread_per_round_ms'])['p50']:.0f} ms)"
                 if r["concurrency"] > 1 else ""))


def _fillers_so_far() -> int:
    """Turns the server began with its admission filler (its `admission.filler` log lines): the
    caller's ears then first hear "One moment, please.", the server's first_audio is the answer's."""
    server_log = RESULTS / "voice_server.log"
    return server_log.read_text().count('"admission.filler"') if server_log.exists() else 0


async def run(turns: int, modes: list[str], concurrency: list[int], caller: str = "espeak") -> dict:
    log = TurnLog.install()
    results: dict = {"loadavg": Path("/proc/loadavg").read_text().split()[:3], "caller": caller}
    async with local_ai_server() as url:
        for mode in modes:
            for n in concurrency:
                fillers = _fillers_so_far()
                result = await run_mode(url, mode, turns, log, n, caller)
                result["fillers"] = _fillers_so_far() - fillers
                results[mode if n == 1 else f"{mode}x{n}"] = result
    return results


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench latency")
    p.add_argument("--turns", type=int, default=20, help="turns per caller (rounds with --concurrency)")
    p.add_argument("--modes", type=lambda v: v.split(","), default=["stream", "file"], help="comma-separated")
    p.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[1],
                   help="callers at once, comma-separated (e.g. 1,2,4,8)")
    p.add_argument("--caller", choices=CALLERS, default="espeak",
                   help="who speaks the questions (bench/caller_voices.py): espeak-ng, or the bundled Piper voice")
    args = p.parse_args(argv)
    results = anyio.run(run, args.turns, args.modes, args.concurrency, args.caller)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(calibrated(results), indent=2))
    saved = json.loads((RESULTS / "latency.json").read_text())
    print(f"calibration_ms {saved['calibration_ms']} (load average at the end {saved['loadavg']})")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
