"""The shared media folder: generated file names, atomic writes, deletion, sweeping.

Names are generated here and never taken from input. Only files matching our own pattern are
ever deleted, so an admin's files in the same folder are safe. File I/O runs in a worker thread,
never on the event loop next to the 20 ms media clock. The folder may vanish or turn read-only
under the engine (an unmounted volume): `delete_call_files` and `sweep` then log and return 0,
writes raise `OSError` to the one playback that needed them, and /health reports it
(`writable()`); no call and never the engine ends because of it.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from itertools import count
from pathlib import Path

import anyio

from voice_common.pcm import wav_bytes

from ..audio.pcm import ASTERISK_FILE_RATE
from ..observability import metrics
from ..observability.logs import get_logger

log = get_logger(__name__)

NAME_PREFIX = "aie-"
_OURS = re.compile(r"^aie-[0-9a-f]{16}-\d{4,}-[0-9a-f]{8}\.wav(\.tmp)?$")


class MediaStore:
    def __init__(self, media_dir: Path, sound_prefix: str):
        self.media_dir = Path(media_dir)
        self.sound_prefix = sound_prefix.strip("/")
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self._seq = count(1)

    def new_name(self, call_id: str) -> str:
        return f"{NAME_PREFIX}{call_id}-{next(self._seq):04d}-{secrets.token_hex(4)}"

    def path(self, name: str) -> Path:
        return self.media_dir / f"{name}.wav"

    def media_uri(self, name: str) -> str:
        """What Asterisk plays: sound:<prefix>/<name> (no extension)."""
        return f"sound:{self.sound_prefix}/{name}" if self.sound_prefix else f"sound:{name}"

    async def write(self, name: str, pcm8k: bytes) -> Path:
        """Write atomically: Asterisk never sees a partial file."""
        final = self.path(name)
        data = wav_bytes(pcm8k, ASTERISK_FILE_RATE)

        def _write() -> None:
            tmp = final.with_name(final.name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)

        await anyio.to_thread.run_sync(_write)
        return final

    def delete(self, name: str, reason: str) -> None:
        """Delete one file we wrote (one unlink: cheap enough for the loop)."""
        try:
            self.path(name).unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("media.delete_failed", name=name, error=str(exc))
            return
        metrics.MEDIA_FILES_DELETED.labels(reason).inc()

    def writable(self) -> bool:
        """Can the engine write its files? (For /health: a folder, writable and searchable.)"""
        return self.media_dir.is_dir() and os.access(self.media_dir, os.W_OK | os.X_OK)

    async def delete_call_files(self, call_id: str) -> int:
        """Delete every file of the call (in a worker thread); 0 when the folder is unusable."""
        try:
            removed = await anyio.to_thread.run_sync(self._delete_call_files, call_id)
        except OSError as exc:
            log.error("media.cleanup_failed", error=str(exc))
            return 0
        if removed:
            metrics.MEDIA_FILES_DELETED.labels("hangup").inc(removed)
        return removed

    def _delete_call_files(self, call_id: str) -> int:
        removed = 0
        prefix = f"{NAME_PREFIX}{call_id}-"  # a prefix test, not a glob: no pattern compiled per call
        for entry in os.scandir(self.media_dir):
            if entry.name.startswith(prefix) and _OURS.match(entry.name):
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed

    async def sweep(self, max_age_s: float, now: float | None = None) -> int:
        """Delete our files older than `max_age_s` (in a worker thread); returns how many, 0 when
        the folder is unusable."""
        try:
            removed = await anyio.to_thread.run_sync(self._sweep, max_age_s, time.time() if now is None else now)
        except OSError as exc:
            log.error("media.sweep_failed", error=str(exc))
            return 0
        if removed:
            metrics.MEDIA_FILES_DELETED.labels("sweeper").inc(removed)
            log.info("media.swept", removed=removed)
        return removed

    def _sweep(self, max_age_s: float, now: float) -> int:
        removed = 0
        for path in self.media_dir.iterdir():
            if not _OURS.match(path.name):
                continue
            try:
                if now - path.stat().st_mtime > max_age_s:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


async def run_sweeper(store: MediaStore, max_age_s: float, interval_s: float) -> None:
    while True:
        await store.sweep(max_age_s)
        await anyio.sleep(interval_s)
