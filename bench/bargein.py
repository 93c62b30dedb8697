"""Barge-in reaction time (issue 4): the caller starts speaking while the agent talks.

Per trial, a call whose agent speaks a long greeting (real TTS from local-ai-server); after a
random 0.8-2.0 s of it the caller says a short sentence. Measured from the speech onset as the
engine receives it (the first loud frame on the capture leg) to:
  stream: the last agent frame the engine sent on the playback leg;
  file:   the PlaybackFinished of the stopped playback.
Targets: ≤ 150 ms stream, ≤ 300 ms file.

  python -m bench bargein [--trials N] [--modes stream,file]
"""

from __future__ import annotations

import argparse
import json
import random
import sys

import anyio
import numpy as np

from bench.calibration import calibrated
from bench.voice_rig import RESULTS, TurnLog, local_ai_server, speech_clip, stats, voice_rig, wait_heard

GREETING = (
    "Hello and thank you for calling the corner shop. We are open every day from eight in the morning "
    "until eight in the evening, and on Sundays from ten until four. You can ask me about our opening "
    "hours, deliveries, returns, or anything else you need today."
)
INTERRUPTIONS = ["Sorry, one question.", "Wait, can I ask something?", "Excuse me.", "Hold on please."]


def loud(payload: bytes, level: float = 300.0) -> bool:
    x = np.frombuffer(payload, dtype="<i2").astype(np.float32)
    return bool(x.size) and float(np.sqrt((x * x).mean())) > level


def leg(emu, role: str):
    return next(c for c in emu.audiosocket_log if c.channel_id and f"-{role}" in c.channel_id)


async def trial(url: str, mode: str, rng: random.Random, i: int) -> dict:
    # Made before the call: espeak-ng runs synchronously and would stall the event loop (and
    # with it the engine and the emulator) right at the onset being measured.
    clip, _ = speech_clip(INTERRUPTIONS[i % len(INTERRUPTIONS)], "en-us", 165)
    async with voice_rig(url, mode, greeting=GREETING, barge_in={"protection_ms": 300}) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(10)
        t_agent = await wait_heard(call, call.t_answered, 20)
        await anyio.sleep(rng.uniform(0.8, 2.0))
        t_say = anyio.current_time()
        await call.say(clip)
        await anyio.sleep(1.0)
        capture = leg(rig.emu, "capture")
        # Onset: the first frame of the caller's speech (any voice at all, not only loud syllables).
        onset = next(f["t"] for f in capture.frames if f["dir"] == "in" and f["t"] >= t_say and loud(f["payload"], 100))
        talking = None
        if mode == "stream":
            # Agent frames: anything but the engine's exact-zero silence. The interrupted stretch is
            # the run of agent frames around the onset (the answer to the caller comes later).
            out = sorted(f["t"] for f in leg(rig.emu, "playback").frames if f["dir"] == "out" and any(f["payload"]))
            talking = any(onset - 0.1 <= t <= onset for t in out)
            stopped = None
            for t in (t for t in out if t >= onset - 0.1):
                if stopped is not None and t - stopped > 0.1:
                    break
                stopped = t
        else:
            finished = [
                e["t"] for e in rig.emu.event_log
                if e["event"]["type"] == "PlaybackFinished" and onset - 0.1 <= e["t"] <= onset + 2.0
            ]
            stopped = min(finished, default=None)
        await call.hangup()
    return {
        "agent_heard_at_s": None if t_agent is None else round(t_agent - call.t_answered, 2),
        "interrupt_after_s": round(t_say - (t_agent or t_say), 2),
        "agent_talking_at_onset": talking,
        "reaction_ms": None if stopped is None else round((stopped - onset) * 1000, 1),
    }


async def run(trials: int, modes: list[str]) -> dict:
    TurnLog.install()
    rng = random.Random(7)
    out = {}
    async with local_ai_server() as url:
        for mode in modes:
            rows = [await trial(url, mode, rng, i) for i in range(trials)]
            out[mode] = {"trials": rows, "reaction_ms": stats([r["reaction_ms"] for r in rows])}
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench bargein")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--modes", type=lambda v: v.split(","), default=["stream", "file"], help="comma-separated")
    args = p.parse_args(argv)
    results = anyio.run(run, args.trials, args.modes)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bargein.json").write_text(json.dumps(calibrated(results), indent=2))
    print(f"{'mode':<7} {'onset → agent stopped':<24} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'n':>3}")
    for mode, r in results.items():
        values = [t["reaction_ms"] for t in r["trials"] if t["reaction_ms"] is not None]
        s = r["reaction_ms"]
        print(f"{mode:<7} {'':<24} {s['p50'] or 0:>7.0f} {s['p95'] or 0:>7.0f} {max(values, default=0):>7.0f} {s['n']:>3}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
