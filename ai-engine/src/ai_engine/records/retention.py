"""Retention (`records.retention_days`): records older than that are deleted with their
recordings, by a periodic task in the engine's task group. 0 keeps everything."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import anyio

from ..observability.logs import get_logger
from . import metrics
from .record import utcnow
from .store import RecordStore

log = get_logger(__name__)


async def expire_once(store: RecordStore, recordings_dir: Path, retention_days: float) -> int:
    """Delete what is past retention now; returns the number of records deleted."""
    before = utcnow() - dt.timedelta(days=retention_days)
    expired = await store.delete_before(before)
    files = 0
    for _call_id, name in expired:
        if name and remove_recording(recordings_dir, name):
            files += 1
    if expired:
        metrics.RETENTION_DELETED.labels("record").inc(len(expired))
        metrics.RETENTION_DELETED.labels("recording").inc(files)
        log.info("records.expired", records=len(expired), recordings=files, before=before.isoformat())
    return len(expired)


def recording_path(recordings_dir: Path, name: str) -> Path | None:
    """The file of a recording name, or None for a name that would leave the folder."""
    path = (recordings_dir / name).resolve()
    root = recordings_dir.resolve()
    return path if path.parent == root else None


def remove_recording(recordings_dir: Path, name: str) -> bool:
    path = recording_path(recordings_dir, name)
    if path is None:
        return False
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("records.recording_delete_failed", file=name, error=str(exc))
        return False


async def run_retention(store: RecordStore, recordings_dir: Path, retention_days: float, interval_s: float) -> None:
    if retention_days <= 0:
        return
    while True:
        try:
            await expire_once(store, recordings_dir, retention_days)
        except Exception as exc:  # a database outage must not end the engine: try again later
            log.error("records.retention_failed", error=str(exc))
        await anyio.sleep(interval_s)
