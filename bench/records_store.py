"""Call records: what the data-access layer costs, SQLite (WAL, a file in a temp dir) against a
real PostgreSQL (a throwaway local cluster, tests/support/pg_cluster.py), through the same
async methods the engine and the API use (each runs sync SQLAlchemy in a worker thread).

Per backend: saving N records one after the other (the records task after each call: ms per
save, p50/p95), then on those N records `GET /calls`-style queries (a page of 50, newest first,
no filter / by persona / by transcript text) and `GET /calls/{id}`, and the JSONL export's walk
over all of them (records per second).

  python -m bench records_store [--n N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from ai_engine.records.record import CallRecord  # noqa: E402
from ai_engine.records.store import CallFilter, RecordStore  # noqa: E402
from bench.calibration import calibrated  # noqa: E402
from pg_cluster import pg_bin, postgres_cluster  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PERSONAS = ("techstore", "healthplus", "edulearn")
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def make(i: int) -> CallRecord:
    start = T0 + dt.timedelta(seconds=37 * i)
    turns = [
        {"role": "agent" if k % 2 else "caller", "text": f"turn {k} of call {i} about order {1000 + i % 97}",
         "at": start.isoformat(), "offset_s": 2.5 * k}
        for k in range(12)
    ]
    return CallRecord(
        id=f"bench{i:07d}", caller_number=f"+49301{i % 5000:06d}", caller_name="Bench Caller", extension="5551234",
        persona=PERSONAS[i % 3], provider="local", started_at=start, answered_at=start, ended_at=start + dt.timedelta(seconds=60),
        duration_s=60.0, outcome="completed" if i % 10 else "transferred", end_reason="caller hung up",
        transfer_target=None, transcript=turns, tool_calls=[], turn_latency=[{"total_ms": 700.0}] * 6, recording=None,
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def timed(fn, repeat: int) -> float:
    """Median ms of `repeat` runs of the coroutine function `fn`."""
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        await fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


async def measure(url: str, n: int) -> dict:
    store = RecordStore(url)
    try:
        await store.migrate()
        saves = []
        for i in range(n):
            record = make(i)
            t = time.perf_counter()
            await store.save(record)
            saves.append((time.perf_counter() - t) * 1000)
        row = {"records": n, "save_p50_ms": round(pct(saves, 50), 2), "save_p95_ms": round(pct(saves, 95), 2)}
        row["list_page_ms"] = round(await timed(lambda: store.list(CallFilter(), 50, 0), 20), 2)
        row["list_persona_ms"] = round(await timed(lambda: store.list(CallFilter(persona="healthplus"), 50, 0), 20), 2)
        row["list_text_ms"] = round(await timed(lambda: store.list(CallFilter(text="order 1042"), 50, 0), 10), 2)
        row["get_ms"] = round(await timed(lambda: store.get(f"bench{n // 2:07d}"), 50), 2)
        t = time.perf_counter()
        count = 0
        async for _ in store.iter_all(CallFilter()):
            count += 1
        assert count == n
        row["export_records_per_s"] = round(n / (time.perf_counter() - t))
        return row
    finally:
        store.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench records_store")
    parser.add_argument("--n", type=int, default=5000, help="records saved per backend")
    args = parser.parse_args(argv)
    report: dict = {"n": args.n, "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        report["backends"]["sqlite"] = anyio.run(measure, f"sqlite:///{tmp}/calls.db", args.n)
    if pg_bin() is None:
        print("[records_store] PostgreSQL binaries missing: postgresql skipped (make system-deps)")
    else:
        with postgres_cluster() as url:
            report["backends"]["postgresql"] = anyio.run(measure, url, args.n)
    cols = list(next(iter(report["backends"].values())))
    print("| backend | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, row in report["backends"].items():
        print(f"| {name} | " + " | ".join(str(row[c]) for c in cols) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "records_store.json").write_text(json.dumps(calibrated(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
