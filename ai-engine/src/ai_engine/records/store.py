"""The data-access layer: call records in SQLite (embedded, WAL) or PostgreSQL, one code path.

SQLAlchemy Core runs synchronously in a worker thread (`anyio.to_thread.run_sync`), so no
database call ever blocks the event loop; the async methods are what the engine uses, the sync
`_`-methods are what they run. The schema is Alembic's (`migrate()`, at engine start).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.engine import make_url

from .record import CallRecord
from .tables import calls

MIGRATIONS = Path(__file__).parent / "migrations"
EXPORT_BATCH = 200
MIGRATION_LOCK = 0x41495243  # PostgreSQL advisory lock key held while migrating ("AIRC")


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What `GET /calls` and the export may ask for; every field optional."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    caller: str | None = None  # substring of the caller number
    persona: str | None = None
    outcome: str | None = None
    text: str | None = None  # substring of the transcript, any case

    def where(self) -> list[Any]:
        c = calls.c
        clauses: list[Any] = []
        if self.since is not None:
            clauses.append(c.started_at >= to_utc(self.since))
        if self.until is not None:
            clauses.append(c.started_at < to_utc(self.until))
        if self.caller:
            clauses.append(c.caller_number.contains(self.caller, autoescape=True))
        if self.persona:
            clauses.append(c.persona == self.persona)
        if self.outcome:
            clauses.append(c.outcome == self.outcome)
        if self.text:
            clauses.append(c.transcript_text.contains(self.text.lower(), autoescape=True))
        return clauses


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the API) never wait for the writer
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def to_utc(t: dt.datetime) -> dt.datetime:
    """Every time is stored in UTC (SQLite keeps no zone): a naive time is taken as UTC."""
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=dt.timezone.utc)
    return t


def _row_to_record(row: Any) -> CallRecord:
    m = row._mapping
    return CallRecord(
        id=m["id"],
        caller_number=m["caller_number"],
        caller_name=m["caller_name"],
        extension=m["extension"],
        persona=m["persona"],
        provider=m["provider"],
        started_at=_utc(m["started_at"]),  # type: ignore[arg-type]
        answered_at=_utc(m["answered_at"]),
        ended_at=_utc(m["ended_at"]),
        duration_s=m["duration_s"],
        outcome=m["outcome"],
        end_reason=m["end_reason"],
        transfer_target=m["transfer_target"],
        transcript=list(m["transcript"] or []),
        tool_calls=list(m["tool_calls"] or []),
        turn_latency=list(m["turn_latency"] or []),
        recording=m["recording"],
    )


class RecordStore:
    def __init__(self, url: str, *, connect_timeout_s: float = 5.0):
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                parsed, connect_args={"timeout": connect_timeout_s, "check_same_thread": False}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            if parsed.drivername == "postgresql":  # the driver we ship: psycopg 3
                parsed = parsed.set(drivername="postgresql+psycopg")
            self.engine = create_engine(
                parsed, pool_pre_ping=True, connect_args={"connect_timeout": max(1, int(connect_timeout_s))}
            )
        self.backend = parsed.get_backend_name()
        # A few database calls at a time: worker threads never pile up behind a slow database.
        self._limiter = anyio.CapacityLimiter(4)

    def describe(self) -> str:
        """The URL without its password, for logs."""
        return self.engine.url.render_as_string(hide_password=True)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # ---- schema
    def migrate_sync(self) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            if self.backend == "postgresql":  # engines sharing one database start together: one migrates
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    async def migrate(self) -> None:
        await self._run(self.migrate_sync)

    # ---- writes
    def save_sync(self, record: CallRecord) -> None:
        text = "\n".join(turn["text"] for turn in record.transcript).lower()
        values = {
            "id": record.id,
            "caller_number": record.caller_number,
            "caller_name": record.caller_name,
            "extension": record.extension,
            "persona": record.persona,
            "provider": record.provider,
            "started_at": to_utc(record.started_at),
            "answered_at": record.answered_at and to_utc(record.answered_at),
            "ended_at": record.ended_at and to_utc(record.ended_at),
            "duration_s": record.duration_s,
            "outcome": record.outcome,
            "end_reason": record.end_reason,
            "transfer_target": record.transfer_target,
            "transcript": record.transcript,
            "transcript_text": text,
            "tool_calls": record.tool_calls,
            "turn_latency": record.turn_latency,
            "recording": record.recording,
        }
        with self.engine.begin() as conn:
            conn.execute(delete(calls).where(calls.c.id == record.id))
            conn.execute(insert(calls).values(**values))

    async def save(self, record: CallRecord) -> None:
        await self._run(self.save_sync, record)

    def delete_before_sync(self, before: dt.datetime) -> list[tuple[str, str | None]]:
        """Delete the records of calls started before `before`; returns (id, recording) of each."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(calls.c.id, calls.c.recording).where(calls.c.started_at < to_utc(before))).all()
            if rows:
                conn.execute(delete(calls).where(calls.c.id.in_([r.id for r in rows])))
        return [(r.id, r.recording) for r in rows]

    async def delete_before(self, before: dt.datetime) -> list[tuple[str, str | None]]:
        return await self._run(self.delete_before_sync, before)

    # ---- reads
    def get_sync(self, call_id: str) -> CallRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(calls).where(calls.c.id == call_id)).first()
        return _row_to_record(row) if row is not None else None

    async def get(self, call_id: str) -> CallRecord | None:
        return await self._run(self.get_sync, call_id)

    def list_sync(self, flt: CallFilter, limit: int, offset: int) -> tuple[list[CallRecord], int]:
        where = flt.where()
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(calls).where(*where)).scalar_one()
            rows = conn.execute(
                select(calls).where(*where).order_by(calls.c.started_at.desc(), calls.c.id).limit(limit).offset(offset)
            ).all()
        return [_row_to_record(r) for r in rows], int(total)

    async def list(self, flt: CallFilter, limit: int, offset: int) -> tuple[list[CallRecord], int]:
        return await self._run(self.list_sync, flt, limit, offset)

    def page_sync(self, flt: CallFilter, after: tuple[dt.datetime, str] | None) -> list[CallRecord]:
        """Oldest first, `EXPORT_BATCH` at a time, after the (started_at, id) given: keyset
        paging, so an export of any size holds one batch in memory."""
        stmt = select(calls).where(*flt.where())
        if after is not None:
            t, call_id = to_utc(after[0]), after[1]
            stmt = stmt.where((calls.c.started_at > t) | ((calls.c.started_at == t) & (calls.c.id > call_id)))
        stmt = stmt.order_by(calls.c.started_at, calls.c.id).limit(EXPORT_BATCH)
        with self.engine.connect() as conn:
            return [_row_to_record(r) for r in conn.execute(stmt).all()]

    async def iter_all(self, flt: CallFilter) -> AsyncIterator[CallRecord]:
        after: tuple[dt.datetime, str] | None = None
        while True:
            batch = await self._run(self.page_sync, flt, after)
            for record in batch:
                yield record
            if len(batch) < EXPORT_BATCH:
                return
            last = batch[-1]
            after = (last.started_at, last.id)

    def close(self) -> None:
        self.engine.dispose()
