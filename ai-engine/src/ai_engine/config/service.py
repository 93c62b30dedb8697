"""Settings of the engine as a service: the HTTP API and its token, call records, logs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from voice_common.settings import Section

_Section = Section  # a misspelt key is an error, not a silent default


class HttpSettings(_Section):
    host: str = Field("127.0.0.1", description="Address of the health/metrics API.")
    port: int = Field(15000, ge=0, le=65535, description="Port of the health/metrics API.")


class ApiSettings(_Section):
    token: SecretStr | None = Field(
        None,
        description="Bearer token for /calls (call records: caller numbers, transcripts, recordings) and /health "
        "details. Environment only: AI_ENGINE_API__TOKEN. Unset: /calls answers 403 and /health shows only ok/degraded.",
    )

    @field_validator("token")
    @classmethod
    def _empty_is_none(cls, v: SecretStr | None) -> SecretStr | None:
        return v if v is not None and v.get_secret_value().strip() else None


class RecordsSettings(_Section):
    """Call records: one per call, in SQLite (default) or PostgreSQL, with retention."""

    enabled: bool = Field(True, description="Keep a record of every call (caller, persona, times, outcome, transcript).")
    data_dir: Path = Field(Path("data"), description="Folder (a volume) of the SQLite database and, by default, of recordings.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql://ai@db/calls (engines sharing one history); null: "
        "sqlite:///<data_dir>/calls.db. No password here: see database_password.",
    )
    database_password: SecretStr | None = Field(
        None, description="Password for database_url. Environment only: AI_ENGINE_RECORDS__DATABASE_PASSWORD."
    )
    database_timeout_s: float = Field(5.0, gt=0, description="Bound on connecting to the database (and SQLite's lock wait).")
    retention_days: float = Field(90.0, ge=0, description="Records and recordings older than this are deleted; 0 keeps them.")
    retention_interval_s: float = Field(3600.0, gt=0, description="How often retention runs.")
    redact_digits: bool = Field(False, description="Mask digit strings in caller numbers and transcripts before saving.")
    redact_keep: int = Field(2, ge=0, description="Redaction keeps this many last digits of each digit string.")
    redact_min_digits: int = Field(4, ge=1, description="Transcript digit strings shorter than this are not masked.")
    recordings_dir: Path | None = Field(
        None,
        description="Where the engine finds call recordings: Asterisk's <astspooldir>/recording, shared as a volume; "
        "null: <data_dir>/recordings.",
    )
    webhook_timeout_s: float = Field(5.0, gt=0, description="Bound on one webhook POST.")
    webhook_attempts: int = Field(3, ge=1, le=10, description="Webhook POSTs per call at most (the first plus retries).")
    webhook_backoff_s: float = Field(1.0, ge=0, description="Wait before the first retry; doubled for each next one.")


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["json", "console"] = Field("json", description="json: one JSON object per line; console: human readable.")
