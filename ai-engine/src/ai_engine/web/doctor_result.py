"""The last `ai-agent doctor` result, kept for the admin page's Health section.

The doctor runs as its own process (`ai-agent doctor` / `make doctor`), so it leaves its result as
a small JSON file in `records.data_dir` (doctor-last.json); the engine reads it when the page asks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

FILE = "doctor-last.json"
MAX_BYTES = 256 * 1024


def save(data_dir: Path, results: list) -> None:
    """Write the results (admin/report.py `Result`s) atomically; never fails the doctor."""
    body = {
        "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "checks": [{"name": r.name, "status": r.status.value, "detail": r.detail, "fix": r.fix} for r in results],
    }
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{FILE}.tmp"
        tmp.write_text(json.dumps(body))
        os.replace(tmp, data_dir / FILE)
    except OSError:
        pass  # a read-only data folder costs the page its doctor section, not the doctor its report


def load(data_dir: Path) -> dict | None:
    path = data_dir / FILE
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("checks"), list) else None
