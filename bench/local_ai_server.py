"""Benchmark of local-ai-server with the real bundled models (run: `python -m bench local_ai_server`).

1. Latency: N spoken turns (espeak-ng voices, 8 kHz telephone audio, sent in real time as 20 ms
   frames like the engine does) in one session. For each turn, from the end of the caller's speech:
   speech_stopped (end-of-turn silence), transcript, first LLM token, first audio byte (as the
   server measures them, `x_local.turn.metrics`), plus the first audio byte as the client sees it.
2. Capacity: k sessions at once, each a caller who asks, listens to the answer, and asks again.
   A level passes when every turn is answered and the p95 of end-of-speech -> first audio stays
   under `--bound-ms` (default 1200 ms); the capacity is the largest passing k (levels are tried
   upwards until two in a row fail).

Prints a table and writes bench/results/local_ai_server.json.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import deque
from pathlib import Path

import anyio
import numpy as np
from bench.calibration import calibrated
from bench.ports import free_port
from local_ai_server.client import RealtimeClient, audio_of, espeak

RESULTS = Path(__file__).resolve().parent / "results"
RATE = 8000
FRAME_BYTES = RATE * 20 // 1000 * 2

QUESTIONS = [
    "What time does the store open tomorrow?",
    "Can you tell me the weather today?",
    "I would like to book a table for two.",
    "What is the capital of France?",
    "How do I reset my password?",
    "Where is the nearest train station?",
    "Please tell me a short joke.",
    "What are your opening hours on Sunday?",
]
VOICES = [("en-us", 165), ("en", 160), ("en-us", 145), ("en-gb-x-rp", 160)]
INSTRUCTIONS = "You are the phone agent of a small shop. Answer in one short sentence."


def percentile(values: list[float], q: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def speech_clip(text: str, voice: str, speed: int) -> tuple[bytes, float]:
    """espeak-ng speech at 8 kHz, trimmed; returns the audio and its length in seconds."""
    return trimmed_clip(np.frombuffer(espeak(text, rate=RATE, voice=voice, speed=speed), dtype="<i2"))


def trimmed_clip(pcm: np.ndarray) -> tuple[bytes, float]:
    """8 kHz int16 speech trimmed to its loud part (10 ms kept either side): bytes and seconds."""
    loud = np.nonzero(np.abs(pcm) > 300)[0]
    pcm = pcm[max(0, loud[0] - 80) : loud[-1] + 80] if loud.size else pcm
    return pcm.astype("<i2").tobytes(), len(pcm) / RATE


class Caller:
    """One simulated caller: streams 20 ms frames in real time, silence whenever not speaking."""

    def __init__(self, client: RealtimeClient) -> None:
        self.client = client
        self.frames: deque[bytes] = deque()
        self.speech_end_at: float | None = None

    async def microphone(self) -> None:
        start = time.monotonic()
        for n in itertools.count(1):
            delay = start + n * 0.02 - time.monotonic()
            if delay > 0:
                await anyio.sleep(delay)
            speaking = bool(self.frames)
            frame = self.frames.popleft() if speaking else bytes(FRAME_BYTES)
            await self.client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(frame).decode()})
            if speaking and not self.frames:
                self.speech_end_at = time.monotonic()

    def say(self, audio: bytes) -> None:
        self.speech_end_at = None
        self.frames.extend(audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES))

    async def turn(self, audio: bytes, timeout: float = 60.0) -> dict:
        mark = len(self.client.events)
        self.say(audio)
        done = await self.client.wait_for("response.done", after=mark, timeout=timeout)
        metrics = await self.client.wait_for("x_local.turn.metrics", after=mark, timeout=5)
        transcript = self.client.find("conversation.item.input_audio_transcription.completed", mark)
        first_audio = self.client.find("response.output_audio.delta", mark)
        answer = "".join(e["delta"] for e in self.client.all("response.output_audio_transcript.delta", mark))
        return {
            "status": done["response"]["status"],
            "transcript": transcript["transcript"] if transcript else None,
            "answer": answer,
            "answer_audio_s": round(len(audio_of(self.client.events[mark:])) / 2 / RATE, 2),
            "client_first_audio_ms": round((first_audio["_t"] - self.speech_end_at) * 1000)
            if first_audio and self.speech_end_at else None,
            **{k: metrics.get(k) for k in ("speech_stopped_ms", "transcript_ms", "first_token_ms", "first_audio_ms",
                                           "stt_ms", "speculative")},
        }


async def _session(url: str, token: str | None, silence_ms: int, clips: list[tuple[str, bytes]], results: list,
                   listen: bool, start_delay: float = 0.0) -> None:
    await anyio.sleep(start_delay)
    async with RealtimeClient.connect(url, token=token) as client:
        await client.wait_for("session.created")
        await client.update_session(rate=RATE, instructions=INSTRUCTIONS, silence_duration_ms=silence_ms)
        caller = Caller(client)
        async with anyio.create_task_group() as tg:
            tg.start_soon(caller.microphone)
            await anyio.sleep(0.5)
            for question, audio in clips:
                result = await caller.turn(audio)
                result["question"] = question
                results.append(result)
                if listen:  # the caller hears the answer out before asking again
                    await anyio.sleep(min(result["answer_audio_s"], 4.0) + 0.3)
                else:
                    await anyio.sleep(0.6)
            tg.cancel_scope.cancel()


def word_recall(question: str, transcript: str | None) -> float:
    words = re.findall(r"[a-z']+", question.lower())
    heard = set(re.findall(r"[a-z']+", (transcript or "").lower()))
    return sum(w in heard for w in words) / len(words)


def summarize(results: list[dict]) -> dict:
    keys = ("speech_stopped_ms", "transcript_ms", "first_token_ms", "first_audio_ms", "client_first_audio_ms", "stt_ms")
    summary = {"turns": len(results), "completed": sum(r["status"] == "completed" for r in results)}
    for key in keys:
        values = [r[key] for r in results if r.get(key) is not None]
        summary[key] = {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "n": len(values)}
    summary["word_recall"] = round(statistics.mean(word_recall(r["question"], r["transcript"]) for r in results), 3)
    return summary


def start_server(port: int, log_path: Path, env_overrides: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "LOCAL_AI_SERVER__PORT": str(port), "LOCAL_AI_SERVER__HOST": "127.0.0.1",
           "LOCAL_AI_SERVER__ALLOW_NO_AUTH": "true", **env_overrides}  # loopback only, no token
    env.pop("LOCAL_AI_AUTH_TOKEN", None)
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "local_ai_server"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"local-ai-server exited ({proc.returncode}); see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("local-ai-server did not become healthy in 120 s")


def fmt(value) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_tables(latency: dict, levels: list[dict], capacity: int, bound_ms: int, silence_ms: int) -> None:
    print(f"\nlocal-ai-server latency, {latency['turns']} turns, 1 session, end-of-turn silence {silence_ms} ms "
          f"(ms from the end of the caller's speech)")
    print(f"{'stage':<34}{'p50':>8}{'p95':>8}")
    labels = [
        ("speech_stopped_ms", "-> speech_stopped (VAD)"),
        ("transcript_ms", "-> transcript"),
        ("first_token_ms", "-> first LLM token"),
        ("first_audio_ms", "-> first audio byte (server)"),
        ("client_first_audio_ms", "-> first audio byte (client)"),
        ("stt_ms", "STT compute (not from EOS)"),
    ]
    for key, label in labels:
        print(f"{label:<34}{fmt(latency[key]['p50']):>8}{fmt(latency[key]['p95']):>8}")
    print(f"completed {latency['completed']}/{latency['turns']}, STT word recall {latency['word_recall']:.0%}")
    print(f"\nconcurrent sessions (pass: all answered and first-audio p95 <= {bound_ms} ms)")
    print(f"{'sessions':>8}{'turns':>7}{'first audio p50':>17}{'p95':>8}{'transcript p95':>16}  result")
    for level in levels:
        s = level["summary"]
        print(f"{level['sessions']:>8}{s['turns']:>7}{fmt(s['first_audio_ms']['p50']):>17}"
              f"{fmt(s['first_audio_ms']['p95']):>8}{fmt(s['transcript_ms']['p95']):>16}  "
              f"{'pass' if level['passed'] else 'fail'}")
    print(f"capacity on this machine: {capacity} concurrent session(s) ({os.cpu_count()} CPU cores)")


async def run(args: argparse.Namespace, url: str) -> dict:
    rng = random.Random(7)
    clips: list[tuple[str, bytes]] = []
    for i in range(args.turns):
        question = QUESTIONS[i % len(QUESTIONS)]
        voice, speed = VOICES[(i // len(QUESTIONS) + i) % len(VOICES)]
        clips.append((question, speech_clip(question, voice, speed)[0]))

    latency_results: list[dict] = []
    await _session(url, args.token, args.silence_ms, clips, latency_results, listen=False)
    latency = summarize(latency_results)

    levels = []
    capacity = 0
    for k in range(1, args.max_sessions + 1):
        results: list[dict] = []
        async with anyio.create_task_group() as tg:
            for s in range(k):
                session_clips = [clips[rng.randrange(len(clips))] for _ in range(args.turns_per_session)]
                tg.start_soon(_session, url, args.token, args.silence_ms, session_clips, results, True,
                              s * 1.7 / k)
        summary = summarize(results)
        p95 = summary["first_audio_ms"]["p95"]
        passed = summary["completed"] == summary["turns"] and p95 is not None and p95 <= args.bound_ms
        levels.append({"sessions": k, "passed": passed, "summary": summary})
        if passed:
            capacity = k
        elif k > capacity + 1:
            break
    return {"latency": latency, "latency_turns": latency_results, "concurrency": levels, "capacity": capacity}


def parse_bench() -> int:
    """Microseconds to parse one 20 ms append (8 kHz pcm): the server's fast path for the compact
    form clients send (`append_message`), and the general path (`parse_client_event`) for the
    same message as json.dumps writes it. Writes bench/results/local_ai_server_parse.json."""
    import timeit

    from local_ai_server.realtime.inbound import parse
    from realtime_protocol import AudioFormat, append_message, parse_client_event

    fmt, pcm = AudioFormat("pcm", 8000), bytes(FRAME_BYTES)
    compact = append_message(pcm)
    spaced = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})
    cases = {
        "server parse, compact (append_message)": lambda: parse(compact, max_bytes=1 << 20, input_format=fmt),
        "server parse, json.dumps form": lambda: parse(spaced, max_bytes=1 << 20, input_format=fmt),
        "parse_client_event (general path)": lambda: parse_client_event(spaced, max_bytes=1 << 20,
                                                                         input_format=fmt),
    }
    results = {}
    for name, fn in cases.items():
        results[name] = round(min(timeit.repeat(fn, number=20000, repeat=7)) / 20000 * 1e6, 2)
        print(f"{name:<42}{results[name]:>8} us per append")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "local_ai_server_parse.json").write_text(json.dumps(calibrated(results), indent=2))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench local_ai_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=24, help="spoken turns for the latency table")
    parser.add_argument("--max-sessions", type=int, default=8, help="highest concurrency level tried")
    parser.add_argument("--turns-per-session", type=int, default=4)
    parser.add_argument("--bound-ms", type=int, default=1200, help="first-audio p95 bound for a passing level")
    parser.add_argument("--silence-ms", type=int, default=500, help="end-of-turn silence (turn_detection)")
    parser.add_argument("--url", help="use a running server (ws://host:port/v1/realtime) instead of starting one")
    parser.add_argument("--token", default=os.environ.get("LOCAL_AI_AUTH_TOKEN"))
    parser.add_argument("--parse-only", action="store_true",
                        help="only time the parsing of one input_audio_buffer.append (the server's hot path)")
    args = parser.parse_args(argv)
    if args.parse_only:
        return parse_bench()

    RESULTS.mkdir(parents=True, exist_ok=True)
    proc = None
    url = args.url
    if url is None:
        port = free_port()
        proc = start_server(port, RESULTS / "local_ai_server.log", {})
        url = f"ws://127.0.0.1:{port}/v1/realtime"
    started = time.monotonic()
    try:
        report = anyio.run(run, args, url)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
    report["config"] = {k: v for k, v in vars(args).items() if k != "token"}
    report["machine"] = {"cpu_cores": os.cpu_count(), "platform": platform.platform(),
                         "python": platform.python_version()}
    report["seconds"] = round(time.monotonic() - started, 1)
    print_tables(report["latency"], report["concurrency"], report["capacity"], args.bound_ms, args.silence_ms)
    (RESULTS / "local_ai_server.json").write_text(json.dumps(calibrated(report), indent=2))
    print(f"\nwrote {RESULTS / 'local_ai_server.json'} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
