"""What the admin pages show, read from the running engine (JSON-ready dicts, no I/O but the
records store).

A live call's state is read off its recorder (records/record.py), which every part of the call
already reports to: an agent reply still arriving is `speaking` (`greeting` before the caller
said anything), a caller turn not answered yet is `thinking`, otherwise `listening`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from typing import Any

import anyio

from ..records.record import CallRecorder, iso
from ..records.redaction import redact
from ..records.store import CallFilter

HOUR_SAMPLE = 500  # the last hour's key metrics read at most this many records


def call_state(r: CallRecorder) -> str:
    said = any(turn["role"] == "caller" for turn in r.transcript)
    if r._replies:  # noqa: SLF001 - an agent reply is arriving: the agent speaks
        return "speaking" if said else "greeting"
    if not r.transcript:
        return "greeting"
    return "thinking" if r.transcript[-1]["role"] == "caller" else "listening"


def live_calls(engine: Any) -> list[dict]:
    s = engine.settings
    out = []
    for call in list(engine.registry.calls.values()):
        r = call.recorder
        last = r.latencies[-1].get("total_ms") if r.latencies else None
        out.append(
            {
                "id": call.id,
                "caller": redact(r.caller_number, s.records.redact_keep, 1) if s.records.redact_digits else r.caller_number,
                "caller_name": r.caller_name,
                "persona": r.persona,
                "provider": r.provider,
                "transport": s.calls.audio_transport,
                "started_at": iso(r.started_at),
                "state": call_state(r),
                "last_latency_ms": last,
                "ending": call.ended.is_set(),
            }
        )
    return sorted(out, key=lambda c: c["started_at"] or "")


async def health(engine: Any) -> dict:
    s = engine.settings
    providers: dict[str, dict] = {}

    async def check(name: str, provider: Any) -> None:
        try:
            with anyio.fail_after(5):
                ok = bool(await provider.ready())
        except Exception:  # a provider's check must not cost the page
            ok = False
        reason = None if ok else getattr(provider, "not_ready_reason", None)
        providers[name] = {"ready": ok, "reason": reason}

    async with anyio.create_task_group() as tg:
        for name, provider in engine.providers.items():
            tg.start_soon(check, name, provider)
    transport = s.calls.audio_transport
    listeners = [{"name": "AudioSocket", "detail": f"{s.audiosocket.host}:{s.audiosocket.port}", "ok": engine.audiosocket_listening}]
    if transport == "externalmedia_rtp":
        listeners.append({"name": "RTP", "detail": f"UDP {s.rtp.host} {s.rtp.port_start}-{s.rtp.port_end}", "ok": True})
    if transport == "websocket":
        listeners.append({"name": "WebSocket", "detail": "the engine connects to Asterisk's chan_websocket", "ok": engine.ari_connected})
    return {
        "ari": {"connected": engine.ari_connected, "url": s.ari.url, "app": s.ari.app},
        "transport": transport,
        "listeners": listeners,
        "media_writable": await anyio.to_thread.run_sync(lambda: engine.media_writable),
        "providers": dict(sorted(providers.items())),
        "active_calls": len(engine.registry.calls),
        "last_hour": await last_hour(engine),
    }


async def last_hour(engine: Any) -> dict:
    service = engine.records
    if service is None:
        return {"available": False, "reason": "call records are off (records.enabled)"}
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    try:
        rows, total = await service.store.list(CallFilter(since=since), HOUR_SAMPLE, 0)
    except Exception:
        return {"available": False, "reason": "call records are unavailable"}
    totals = [t["total_ms"] for r in rows for t in r.turn_latency if isinstance(t.get("total_ms"), (int, float))]
    return {
        "available": True,
        "calls": total,
        "outcomes": dict(Counter(r.outcome for r in rows).most_common()),
        "turns": len(totals),
        "p50_ms": percentile(totals, 50),
        "p95_ms": percentile(totals, 95),
    }


def percentile(values: list[float], p: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 1)
