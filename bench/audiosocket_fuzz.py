"""Fuzz the live AudioSocket server with 10^6 mutated frames (issue 5, "Bad input").

The engine's real `AudioSocketServer` listens on loopback. Fuzzing clients open connection after
connection: most send a valid UUID of a "call" (so the mutated frames reach a bound connection's
reader, as in a live call) and some a mutated first frame; then a stream of frames, each mutated
with some probability (bit flips, wrong kinds, wrong or huge lengths, truncation, random bytes).
The fuzzing clients run in a separate process (so they do not share the server's event loop).
Meanwhile one healthy call streams paced 20 ms frames and must not notice: the gaps between its
frames as received (p99 and max) are reported. Printed: frames sent, connections, how they ended, server
exceptions (must be 0), memory growth, and the healthy call's worst gap.

  python -m bench audiosocket_fuzz [--frames N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import uuid
from collections import Counter
from pathlib import Path

import anyio

from ai_engine.config import AudioSocketSettings
from ai_engine.observability import metrics
from ai_engine.observability.logs import setup_logging
from ai_engine.playback.media_clock import MediaClock
from ai_engine.transports.audiosocket import codec
from ai_engine.transports.audiosocket.connection import AudioSocketConnection, LegEnd
from ai_engine.transports.audiosocket.server import AudioSocketServer
from bench.calibration import calibrated

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = [0x00, 0x01, 0x02, 0x03, 0x10, 0x12, 0x18, 0x7F, 0xFF]


def valid_frame(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.85:
        return codec.encode_audio(rng.randbytes(320))
    if roll < 0.95:
        return codec.encode_dtmf(rng.choice("0123456789*#"))
    return codec.frame_bytes(codec.Kind.ERROR, rng.randbytes(rng.randint(0, 4)))


def mutate(frame: bytes, rng: random.Random) -> bytes:
    b = bytearray(frame)
    how = rng.randrange(7)
    if how == 0:  # flip bits anywhere
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif how == 1:  # another kind
        b[0] = rng.choice(KINDS)
    elif how == 2:  # length lies
        n = rng.choice([0, 1, 15, 17, 319, 321, 8193, 65535])
        b[1:3] = n.to_bytes(2, "big")
    elif how == 3:  # truncated
        del b[rng.randrange(1, len(b)) :]
    elif how == 4:  # random bytes
        b = bytearray(rng.randbytes(rng.randint(1, 64)))
    elif how == 5:  # empty audio
        b = bytearray(b"\x10\x00\x00")
    else:  # duplicated header
        b = b[:3] + b
    return bytes(b)


class Calls:
    """Binds known UUIDs and hands each bound connection's frames to a call-like owner (the
    engine's calls attach the same way) until it breaks; the media clock ends silent ones."""

    def __init__(self, media: MediaClock):
        self.media = media
        self.known: set[uuid.UUID] = set()
        self.outcomes: Counter[str] = Counter()
        self.errors: list[str] = []
        self.healthy_uuid = uuid.uuid4()
        self.healthy_times: list[float] = []

    def bind(self, conn: AudioSocketConnection) -> str | None:
        if conn.uuid == self.healthy_uuid:
            conn.attach(self._healthy_frame, lambda reason: conn.release())
            return None
        if conn.uuid not in self.known:
            return "unknown UUID"
        self.known.discard(conn.uuid)
        conn.attach(lambda event: None, lambda reason: self._ended(conn, reason))
        self.media.add_leg(conn)
        return None

    def _ended(self, conn: AudioSocketConnection, end: LegEnd) -> None:
        self.media.remove_leg(conn)
        reason = str(end)
        if reason.startswith("malformed"):
            self.outcomes["protocol error"] += 1
        elif reason == "closed":
            self.outcomes["closed by client"] += 1
        elif reason == "timeout":
            self.outcomes["read timeout"] += 1
        else:  # anything else is a bug
            self.errors.append(reason)
        conn.release()

    def _healthy_frame(self, event: codec.Event) -> None:
        if isinstance(event, codec.Audio):
            self.healthy_times.append(anyio.current_time())


async def healthy_client(port: int, calls: Calls, stop: anyio.Event) -> None:
    async with await anyio.connect_tcp("127.0.0.1", port) as s:
        await s.send(codec.encode_uuid(calls.healthy_uuid))
        frame = codec.encode_audio(b"\x01\x00" * 160)
        t = anyio.current_time()
        while not stop.is_set():
            await s.send(frame)
            t += 0.02
            await anyio.sleep(max(0.0, t - anyio.current_time()))


async def fuzz_client(port: int, known: list[uuid.UUID], budget: list[int], rng: random.Random, stats: Counter) -> None:
    while budget[0] > 0:
        try:
            async with await anyio.connect_tcp("127.0.0.1", port) as s:
                stats["connections"] += 1
                if rng.random() < 0.9 and known:
                    first = codec.encode_uuid(known.pop())
                else:
                    first = mutate(codec.encode_uuid(uuid.uuid4()), rng)
                await s.send(first)
                for _ in range(rng.randint(1, 400)):
                    if budget[0] <= 0:
                        break
                    frame = valid_frame(rng)
                    if rng.random() < 0.02:
                        frame = mutate(frame, rng)
                        stats["mutated"] += 1
                    budget[0] -= 1
                    stats["frames"] += 1
                    await s.send(frame)
        except (anyio.BrokenResourceError, anyio.EndOfStream, OSError):
            stats["closed by server while sending"] += 1


async def _fuzz_clients(port: int, known: list[uuid.UUID], total: int, seed: int) -> dict:
    rng = random.Random(seed)
    stats: Counter[str] = Counter()
    budget = [total]
    t0 = anyio.current_time()
    async with anyio.create_task_group() as clients:
        for _ in range(8):
            clients.start_soon(fuzz_client, port, known, budget, random.Random(rng.random()), stats)
    stats["seconds"] = anyio.current_time() - t0
    return dict(stats)


def fuzz_process(port: int, known: list[uuid.UUID], total: int, seed: int) -> dict:
    return anyio.run(_fuzz_clients, port, known, total, seed)


async def run(total: int, seed: int) -> dict:
    known = [uuid.uuid4() for _ in range(total // 20 + 1000)]
    settings = AudioSocketSettings(host="127.0.0.1", port=0, uuid_timeout_s=1.0)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with anyio.create_task_group() as tg:
        media = MediaClock(keepalive_s=3600.0, read_timeout_s=2.0)  # the old readers' 2 s read timeout
        tg.start_soon(media.run)
        calls = Calls(media)
        calls.known.update(known)
        server = AudioSocketServer(settings, calls.bind, max_connections=256)
        port = await tg.start(server.serve)
        stop = anyio.Event()
        tg.start_soon(healthy_client, port, calls, stop)
        stats = await anyio.to_process.run_sync(fuzz_process, port, known, total, seed, cancellable=True)
        elapsed = stats["seconds"]
        stop.set()
        await anyio.sleep(0.3)
        tg.cancel_scope.cancel()
    gaps = sorted(b - a for a, b in zip(calls.healthy_times[50:], calls.healthy_times[51:]))
    return {
        "frames": stats["frames"],
        "mutated_frames": stats["mutated"],
        "connections": stats["connections"],
        "seconds": round(elapsed, 1),
        "frames_per_s": round(stats["frames"] / elapsed),
        "refused_before_binding": int(metrics.AUDIOSOCKET_CONNECTIONS.labels("refused")._value.get()),
        "reader_outcomes": dict(calls.outcomes),
        "server_exceptions": len(calls.errors),
        "exception_samples": calls.errors[:5],
        "max_rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1),
        "healthy_call_frames": len(calls.healthy_times),
        "healthy_call_gap_p99_ms": round(gaps[int(len(gaps) * 0.99)] * 1000, 1) if gaps else None,
        "healthy_call_gap_max_ms": round(gaps[-1] * 1000, 1) if gaps else None,
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench audiosocket_fuzz")
    p.add_argument("--frames", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    setup_logging("ERROR")  # one line per refused connection would drown the figures
    result = anyio.run(run, args.frames, args.seed)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "audiosocket_fuzz.json").write_text(json.dumps(calibrated(result), indent=2))
    print(f"{'metric':<28} value")
    for key, value in result.items():
        print(f"{key:<28} {value}")
    return 0 if result["server_exceptions"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
