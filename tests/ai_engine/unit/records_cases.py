"""Record-store behaviour shared by the SQLite and the PostgreSQL tests (same layer, same answers)."""
import dataclasses
import datetime as dt

from ai_engine.records.record import CallRecord
from ai_engine.records.retention import expire_once
from ai_engine.records.store import CallFilter, RecordStore

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


def record(call_id: str, *, minutes: int = 0, caller="+4930123456", persona="default", outcome="completed",
           said="hello", recording=None) -> CallRecord:
    start = T0 + dt.timedelta(minutes=minutes)
    return CallRecord(
        id=call_id, caller_number=caller, caller_name="Test Caller", extension="5551234", persona=persona,
        provider="local", started_at=start, answered_at=start + dt.timedelta(seconds=1),
        ended_at=start + dt.timedelta(seconds=30), duration_s=30.0, outcome=outcome, end_reason="caller hung up",
        transfer_target=None,
        transcript=[{"role": "caller", "text": said, "at": start.isoformat(), "offset_s": 2.0},
                    {"role": "agent", "text": "Sure.", "at": start.isoformat(), "offset_s": 3.1}],
        tool_calls=[], turn_latency=[{"total_ms": 640.0}], recording=recording,
    )


async def round_trip(store: RecordStore) -> None:
    await store.migrate()
    await store.migrate()  # at every start: a second run changes nothing
    original = record("a1", said="My order number is 12345")
    await store.save(original)
    got = await store.get("a1")
    assert got == original
    assert await store.get("nope") is None


async def filters_and_paging(store: RecordStore) -> None:
    await store.migrate()
    await store.save(record("c1", minutes=0, caller="+4930111111", persona="techstore", said="my laptop is broken"))
    await store.save(record("c2", minutes=10, caller="+4930222222", persona="healthplus", outcome="transferred",
                            said="I need an appointment"))
    await store.save(record("c3", minutes=20, caller="+4930111111", persona="techstore", outcome="provider_failed",
                            said="Where is my LAPTOP order"))

    async def ids(flt=CallFilter(), limit=50, offset=0):
        rows, total = await store.list(flt, limit, offset)
        return [r.id for r in rows], total

    assert await ids() == (["c3", "c2", "c1"], 3)  # newest first
    assert await ids(CallFilter(caller="111111")) == (["c3", "c1"], 2)
    assert await ids(CallFilter(persona="healthplus")) == (["c2"], 1)
    assert await ids(CallFilter(outcome="transferred")) == (["c2"], 1)
    assert await ids(CallFilter(text="laptop")) == (["c3", "c1"], 2)  # any case
    assert await ids(CallFilter(text="100%_")) == ([], 0)  # LIKE wildcards are plain text
    assert await ids(CallFilter(since=T0 + dt.timedelta(minutes=5))) == (["c3", "c2"], 2)
    assert await ids(CallFilter(until=T0 + dt.timedelta(minutes=5))) == (["c1"], 1)
    local = dt.timezone(dt.timedelta(hours=2))  # the same instant in another zone
    assert await ids(CallFilter(since=(T0 + dt.timedelta(minutes=5)).astimezone(local))) == (["c3", "c2"], 2)
    assert await ids(limit=2) == (["c3", "c2"], 3)
    assert await ids(limit=2, offset=2) == (["c1"], 3)
    exported = [r.id async for r in store.iter_all(CallFilter(persona="techstore"))]
    assert exported == ["c1", "c3"]  # oldest first


async def many_exported_in_batches(store: RecordStore, n: int = 450) -> None:
    await store.migrate()
    for i in range(n):
        await store.save(record(f"m{i:04d}", minutes=i // 3))  # equal start times too
    seen = [r.id async for r in store.iter_all(CallFilter())]
    assert len(seen) == n and len(set(seen)) == n


async def retention(store: RecordStore, recordings) -> None:
    await store.migrate()
    recordings.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    old = dataclasses.replace(record("old", recording="ai-agent-old.wav"), started_at=now - dt.timedelta(days=40))
    new = dataclasses.replace(record("new", recording="ai-agent-new.wav"), started_at=now - dt.timedelta(days=1))
    (recordings / "ai-agent-old.wav").write_bytes(b"RIFF")
    (recordings / "ai-agent-new.wav").write_bytes(b"RIFF")
    await store.save(old)
    await store.save(new)
    assert await expire_once(store, recordings, retention_days=30) == 1
    assert await store.get("old") is None and await store.get("new") is not None
    assert sorted(p.name for p in recordings.iterdir()) == ["ai-agent-new.wav"]

