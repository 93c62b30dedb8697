"""Attack a live local-ai-server (issue 13): every case must leave the server answering.

The real server (uvicorn, real sockets, loopback only, a bearer token) runs in this process with
the fake models of the tests (tests/support/local_ai_fakes.py: small fixed delays per STT call,
LLM token and TTS piece), so the whole run takes seconds and stops by itself (each case is
bounded). Cases: oversized and malformed events, a JSON integer over 4,300 digits, lone
surrogates, big conversation items, an event flood, audio far faster than real time (while a
polite caller's turn is timed), a manual-mode buffer flood, a slow consumer that stops reading,
and connection churn (no token, wrong token, past the session limit). After each case a fresh
caller must still get an answer, and no server-side exception may be logged.

Printed: survived/failed per case, what the attacker got back, the polite caller's answer time,
and the process RSS before/after (server and attacking clients share the process). JSON to
bench/results/local_ai_server_attack.json.

  python -m bench local_ai_server_attack [--seed S]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import secrets
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))  # the fake models are test doubles living in tests/

from bench.calibration import calibrated  # noqa: E402
from local_ai_fakes import FakeLLM, FakeSTT, FakeTTS, fake_models, make_runtime, serve, silence, vowel  # noqa: E402
from local_ai_server.client import RealtimeClient  # noqa: E402
from realtime_protocol import append_message  # noqa: E402
from voice_common.logs import configure_logging  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TOKEN = secrets.token_urlsafe(16)
TURN = vowel(1.2) + silence(0.8)  # one caller turn at 8 kHz
CASE_TIMEOUT_S = 60


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def item(role: str, text: str) -> dict:
    return {"type": "conversation.item.create",
            "item": {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}}


def codes(client: RealtimeClient, after: int = 0) -> dict:
    return dict(Counter(e["error"]["code"] for e in client.all("error", after)))


async def polite_turn(url: str) -> float:
    """A caller asks one question; seconds from the end of the question to the answer's end."""
    async with RealtimeClient.connect(url, token=TOKEN) as client:
        await client.update_session(rate=8000)
        await client.send_audio(TURN, realtime=False)
        started = time.monotonic()
        await client.wait_for("response.done", timeout=30)
        return time.monotonic() - started


# --- the cases: each returns what the attacker saw ---------------------------------------------


async def oversized(url: str, rng: random.Random) -> dict:
    async with RealtimeClient.connect(url, token=TOKEN) as client:
        await client.wait_for("session.created")
        await client.send_raw(append_message(rng.randbytes(900_000)))  # ~1.2 MB of text: over the limit
        await client.wait_for("error")
        await client.update_session(rate=8000)  # still served
        seen = codes(client)
    closed = None
    try:
        async with RealtimeClient.connect(url, token=TOKEN) as client:
            await client.wait_for("session.created")
            await client.send_raw("x" * 5_000_000)  # over 4x the limit: the socket is closed
            await client.wait_for("never", timeout=10)
    except Exception as exc:  # the client sees the close inside its task group
        closed = type(_innermost(exc)).__name__
    return {"errors": seen, "5 MB frame": closed or "not closed"}


def _innermost(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _malformed(rng: random.Random) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return "{" * rng.randint(1, 100_000)
    if kind == 1:
        return '{"type": "session.update", "session": {}, "n": ' + "9" * rng.randint(4301, 50_000) + "}"
    if kind == 2:
        return json.dumps(item("user", "text \ud800 with a lone surrogate"))
    if kind == 3:
        return json.dumps({"type": rng.choice(["session.update", "response.create", "conversation.item.create"]),
                           rng.choice(["session", "response", "item"]): rng.choice([None, 5, "x", [], {"a": []}])})
    if kind == 4:
        return '{"type":"input_audio_buffer.append","audio":"' + "".join(rng.choices("AB=%\\/", k=300)) + '"}'
    if kind == 5:
        return json.dumps({"type": "x" * rng.randint(1, 5000)})
    if kind == 6:
        return rng.randbytes(rng.randint(1, 2000)).decode("latin-1")
    if kind == 7:
        return json.dumps([{"type": "response.cancel"}] * 100)
    return json.dumps({"type": "session.update", "session": {"audio": {"input": {"format": {
        "type": "audio/pcm", "rate": rng.choice([0, -1, 44100, 10**30, "8000", True])}}}}})


async def malformed(url: str, rng: random.Random) -> dict:
    async with RealtimeClient.connect(url, token=TOKEN) as client:
        await client.wait_for("session.created")
        for _ in range(2000):
            await client.send_raw(_malformed(rng))
        await client.update_session(rate=8000)  # every message above got its answer first
        return {"messages": 2000, "errors": codes(client)}


async def big_items(url: str, rng: random.Random) -> dict:
    async with RealtimeClient.connect(url, token=TOKEN) as client:
        await client.wait_for("session.created")
        for n in range(200):
            await client.send(item("system", f"rule {n}: " + "be kind " * 600))  # 4.8k chars: refused
            await client.send(item("system", f"rule {n}: " + "be kind " * 450))  # 3.6k chars: kept, bounded
        await client.send(item("user", "Hello?"))
        await client.send({"type": "response.create"})
        done = await client.wait_for("response.done", timeout=30)
        return {"errors": codes(client), "response": done["response"]["status"]}


async def event_flood(url: str, rng: random.Random) -> dict:
    async with RealtimeClient.connect(url, token=TOKEN) as client:
        await client.wait_for("session.created")
        for n in range(20_000):
            await client.send_raw('{"type":"response.cancel"}' if n % 2 else '{"type":"input_audio_buffer.clear"}')
        await client.update_session(rate=8000)
        return {"events": 20_000, "errors": codes(client)}


async def audio_flood(url: str, rng: random.Random) -> dict:
    """10 minutes of speech sent as fast as possible while a polite caller asks one question."""
    result: dict = {}

    async def flood() -> None:
        async with RealtimeClient.connect(url, token=TOKEN) as client:
            await client.update_session(rate=8000)
            for _ in range(300):  # 300 turns of 2 s
                await client.send_audio(TURN, realtime=False)
            await client.update_session(rate=8000)
            result["attacker errors"] = codes(client)
            result["attacker turns committed"] = len(client.all("input_audio_buffer.committed"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(flood)
        await anyio.sleep(0.2)
        result["polite answer s"] = round(await polite_turn(url), 2)
    return result


async def manual_buffer(url: str, rng: random.Random) -> dict:
    """60 s appended at once without turn detection: the rate bound refuses most of it (the buffer
    bound itself, reached at real-time pace, is covered by tests/local_ai_server)."""
    async with RealtimeClient.connect(url, token=TOKEN) as client:
        await client.update_session(rate=8000, turn_detection=None)
        for _ in range(60):
            await client.send_audio(vowel(1.0), realtime=False)  # 60 s into a 30 s buffer
        await client.send({"type": "input_audio_buffer.commit"})
        await client.wait_for("conversation.item.input_audio_transcription.completed", timeout=30)
        return {"errors": codes(client)}


async def slow_consumer(url: str, rng: random.Random) -> dict:
    """A client asks for long answers and never reads: the server must not buffer without bound
    nor slow down a polite caller."""
    before = rss_mib()
    async with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, max_queue=1,
                       max_size=None) as ws:
        for _ in range(5):
            await ws.send(json.dumps({"type": "response.create", "response": {"max_output_tokens": 2000}}))
            await ws.send(json.dumps({"type": "response.cancel"}))
        await ws.send(json.dumps({"type": "response.create", "response": {"max_output_tokens": 2000}}))
        polite = await polite_turn(url)
        await anyio.sleep(1.0)  # the server keeps trying to write to it meanwhile
        grown = rss_mib() - before
    return {"polite answer s": round(polite, 2), "RSS growth while stalled MiB": round(grown, 1)}


async def churn(url: str, rng: random.Random) -> dict:
    outcomes: Counter = Counter()

    async def one(n: int) -> None:
        token = TOKEN if n % 3 else rng.choice([None, "wrong"])
        try:
            async with RealtimeClient.connect(url, token=token) as client:
                await client.wait_for("session.created", timeout=10)
                if n % 5 == 0:
                    await client.send_audio(TURN[:3200], realtime=False)
                outcomes["served"] += 1
        except InvalidStatus as exc:
            outcomes[f"HTTP {exc.response.status_code}"] += 1
        except Exception as exc:
            outcomes[type(_innermost(exc)).__name__] += 1

    for wave in range(10):
        async with anyio.create_task_group() as tg:
            for n in range(30):
                tg.start_soon(one, wave * 30 + n)
    return {"connections": 300, "outcomes": dict(outcomes)}


CASES = [oversized, malformed, big_items, event_flood, audio_flood, manual_buffer, slow_consumer, churn]


async def run(seed: int) -> list[dict]:
    rng = random.Random(seed)
    logs = io.StringIO()
    configure_logging("info", stream=logs)
    models = fake_models(FakeSTT(delay=0.05), FakeLLM(token_delay=0.005), FakeTTS(delay=0.01))
    runtime = make_runtime(models, auth_token=TOKEN, server={"max_sessions": 16}, concurrency={"cpu_jobs": 2})
    rows = []
    async with serve(runtime) as host:
        url = f"ws://{host}/v1/realtime"
        await polite_turn(url)  # warm up
        for case in CASES:
            mark = len(logs.getvalue())
            before = rss_mib()
            started = time.monotonic()
            row: dict = {"case": case.__name__}
            try:
                with anyio.fail_after(CASE_TIMEOUT_S):
                    row["attacker saw"] = await case(url, rng)
                    row["next caller answered in s"] = round(await polite_turn(url), 2)
                failure = None
            except Exception as exc:  # the case's own failure is the finding
                failure = f"{type(exc).__name__}: {str(exc)[:200]}"
            lines = [json.loads(line) for line in logs.getvalue()[mark:].splitlines() if line.startswith("{")]
            crashes = [line["event"] for line in lines
                       if "exception" in line or line["event"] in ("session.event_failed", "turn.failed")]
            row.update(seconds=round(time.monotonic() - started, 2), rss_before_mib=round(before, 1),
                       rss_after_mib=round(rss_mib(), 1), server_exceptions=len(crashes),
                       result="survived" if failure is None and not crashes else "FAILED")
            if failure:
                row["failure"] = failure
            if crashes:
                row["exceptions"] = crashes[:5]
            rows.append(row)
            print(f"{row['case']:<14} {row['result']:<9} {row['seconds']:>6} s  RSS {row['rss_before_mib']:>7} -> "
                  f"{row['rss_after_mib']:>7} MiB  {json.dumps(row.get('attacker saw') or row.get('failure'))}",
                  flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench local_ai_server_attack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    started = time.monotonic()
    rss_start = rss_mib()
    rows = anyio.run(run, args.seed)
    report = {"seed": args.seed, "seconds": round(time.monotonic() - started, 1), "rss_start_mib": round(rss_start, 1),
              "rss_end_mib": round(rss_mib(), 1), "cases": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "local_ai_server_attack.json").write_text(json.dumps(calibrated(report), indent=2))
    failed = [r["case"] for r in rows if r["result"] != "survived"]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} cases survived; RSS {report['rss_start_mib']} -> "
          f"{report['rss_end_mib']} MiB; wrote {RESULTS / 'local_ai_server_attack.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
