"""media_load's table and verdict: what each level's figures say against the target."""

from __future__ import annotations

import numpy as np

TARGET_CALLS_PER_CORE, TARGET_P99_MS = 500, 5.0


def stalls(late_at, n: int) -> list[dict]:
    """Moments when many calls' frames were late together (a stall of one process, not of a
    call): 50 ms buckets holding late frames of at least a quarter of the calls."""
    buckets: dict[int, int] = {}
    for t in late_at:
        buckets[int(t / 0.05)] = buckets.get(int(t / 0.05), 0) + 1
    return [{"t": round(k * 0.05, 2), "late_frames": v} for k, v in sorted(buckets.items()) if v >= max(2, n / 4)]


def pct(values, q: float, scale: float = 1000.0) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)) * scale, 2) if len(values) else None


COLUMNS = [
    ("transport", "transport", "{}"),
    ("N", "n", "{}"),
    ("up", "set_up", "{}"),
    ("engine cores", "engine_cpu_cores", "{:.2f}"),
    ("cpu/call ms/s", "cpu_per_call_ms_per_s", "{:.2f}"),
    ("rss/call KiB", "rss_per_call_kb", "{:.0f}"),
    ("fps/call", "fps_per_call", "{:.1f}"),
    ("jit p50", "jitter_p50_ms", "{:.2f}"),
    ("jit p99", "jitter_p99_ms", "{:.2f}"),
    ("jit max", "jitter_max_ms", "{:.1f}"),
    ("late", "late", "{}"),
    ("lost", "lost", "{}"),
    ("silent", "silent", "{}"),
    ("underruns", "underruns", "{}"),
    ("lat p50", "latency_p50_ms", "{:.0f}"),
    ("lat p99", "latency_p99_ms", "{:.0f}"),
    ("gen cores", "generator_cpu_cores", "{:.2f}"),
    ("gen lag p99", "generator_lag_p99_ms", "{:.2f}"),
    ("other load", "other_load_cores", "{:.2f}"),
    ("calib ms", "calibration_ms", "{:.1f}"),
]


def fmt(value, spec: str) -> str:
    return "-" if value is None else spec.format(value)


def print_table(levels: list[dict]) -> None:
    widths = [max(len(h), 6 if k != "transport" else 11) for h, k, _ in COLUMNS]
    print("  ".join(h.rjust(w) for (h, _, _), w in zip(COLUMNS, widths)))
    for lv in levels:
        print("  ".join(fmt(lv.get(k), s).rjust(w) for (_, k, s), w in zip(COLUMNS, widths)))
    print("(jitter, latency and lag in ms; cpu/call = engine CPU ms per call per second)")


def meets_target(lv: dict) -> bool:
    """Every call up, and the playback legs' pacing jitter p99 within the target."""
    return lv["set_up"] == lv["n"] and lv["jitter_p99_ms"] is not None and lv["jitter_p99_ms"] <= TARGET_P99_MS


def verdict(levels: list[dict]) -> dict:
    ok = [lv for lv in levels if meets_target(lv)]
    best = max(ok, key=lambda lv: lv["n"], default=None)
    # Calls per core from CPU per call, at the busiest level the engine still kept up with (a
    # saturated engine's CPU per call only says it had no more to give).
    kept_up = [lv for lv in levels if lv["set_up"] == lv["n"] and lv["engine_cpu_cores"] < 0.9]
    busiest = max(kept_up, key=lambda lv: lv["n"], default=None)
    return {
        "max_calls_meeting_p99_on_one_core": best["n"] if best else 0,
        "cpu_bound_calls_per_core": round(busiest["n"] / busiest["engine_cpu_cores"]) if busiest else None,
        "target": f">= {TARGET_CALLS_PER_CORE} calls per engine core with p99 jitter <= {TARGET_P99_MS} ms",
        "met": bool(best and best["n"] >= TARGET_CALLS_PER_CORE),
    }
