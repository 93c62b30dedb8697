"""How fast this machine was when a figure was taken: `calibration_ms`, reported with every bench.

A bench figure (CPU per call, latency) only compares with one from another machine, or from the
same shared VM at another moment, next to the time a fixed workload took there. The workload is
pure Python (the engine's hot path is mostly interpreter time): the best of `runs` sums of
200,000 squares, in milliseconds. Lower is faster; on an idle modern x86 core it is roughly
10-15 ms. It was media_load's own figure first, so its old results compare with the new ones.

`calibrated(result)` returns a bench's JSON result with `calibration_ms` and the load average
added (the 1-minute load says whether other work shared the machine while it ran):

    (RESULTS / "latency.json").write_text(json.dumps(calibrated(results), indent=2))
"""

from __future__ import annotations

import os
import time

WORKLOAD_N = 200_000


def calibration_ms(runs: int = 3) -> float:
    """Best of `runs` timings of the fixed workload, in ms (how fast this CPU is right now)."""
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        sum(i * i for i in range(WORKLOAD_N))
        best = min(best, time.perf_counter() - t)
    return round(best * 1000, 2)


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def calibrated(result: dict, calibration: float | None = None) -> dict:
    """`result` (not changed) with `calibration_ms` (measured now unless given) and `loadavg`."""
    return {
        **result,
        "calibration_ms": calibration_ms() if calibration is None else calibration,
        "loadavg": load_average(),
        "cpus": os.cpu_count(),
    }
