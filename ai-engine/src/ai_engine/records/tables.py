"""The call-records schema, one table, as SQLAlchemy Core (the same on SQLite and PostgreSQL).

The Alembic migrations in `migrations/` create exactly this; `tests/.../test_records_store.py`
checks that the migrated database and this metadata agree.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Index, MetaData, String, Table, Text

metadata = MetaData()

calls = Table(
    "calls",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("caller_number", String(64), nullable=False, default=""),
    Column("caller_name", String(128), nullable=False, default=""),
    Column("extension", String(64), nullable=False, default=""),
    Column("persona", String(64), nullable=False, default=""),
    Column("provider", String(64), nullable=False, default=""),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("outcome", String(32), nullable=False, default=""),
    Column("end_reason", String(256), nullable=False, default=""),
    Column("transfer_target", String(128), nullable=True),
    Column("transcript", JSON, nullable=False),  # [{"role","text","at","offset_s"}]
    Column("transcript_text", Text, nullable=False, default=""),  # lower-cased, for the text filter
    Column("tool_calls", JSON, nullable=False),  # [{"name","arguments","result","at"}]
    Column("turn_latency", JSON, nullable=False),  # [{"total_ms",...}] one per agent turn
    Column("recording", String(256), nullable=True),  # file name in records.recordings_dir
    Index("ix_calls_started_at", "started_at"),
    Index("ix_calls_caller_number", "caller_number"),
    Index("ix_calls_persona", "persona"),
    Index("ix_calls_outcome", "outcome"),
)
