"""The records service: lives in the engine's task group, takes finished calls' records
without ever blocking the caller of `submit`, saves them, then sends the persona's webhook.

  CallSession teardown ─ submit(record) ─▶ bounded queue ─▶ writer: redact → save → webhook task
  retention: a periodic task (records/retention.py)

A database that is down costs records (logged, counted), never a call or the engine.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.abc
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..config import RecordsSettings, Settings
from ..observability.logs import get_logger
from . import metrics, webhook
from .record import CallRecord
from .redaction import redact_record
from .retention import run_retention
from .store import RecordStore

log = get_logger(__name__)

QUEUE_SIZE = 1000  # finished calls waiting to be written; more are dropped and counted
MAX_WEBHOOKS = 64  # webhook deliveries in flight; more wait their turn


def database_url(s: RecordsSettings) -> str:
    from sqlalchemy.engine import make_url

    if s.database_url is None:
        return f"sqlite:///{s.data_dir / 'calls.db'}"
    url = make_url(s.database_url)
    if s.database_password is not None and s.database_password.get_secret_value():
        url = url.set(password=s.database_password.get_secret_value())
    return url.render_as_string(hide_password=False)


class RecordsService:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.s = settings.records
        self.store = RecordStore(database_url(self.s), connect_timeout_s=self.s.database_timeout_s)
        self.recordings_dir: Path = self.s.recordings_dir or self.s.data_dir / "recordings"
        send, receive = anyio.create_memory_object_stream[CallRecord](QUEUE_SIZE)
        self._send: MemoryObjectSendStream[CallRecord] = send
        self._receive: MemoryObjectReceiveStream[CallRecord] = receive
        self._webhook_slots = anyio.Semaphore(MAX_WEBHOOKS)
        self.ready = False
        self.pending = 0  # records submitted and not yet saved (or given up on)
        self._drained = anyio.Event()

    def submit(self, record: CallRecord) -> None:
        """A call is over: queue its record (sync, never blocks)."""
        try:
            self._send.send_nowait(record)
            self.pending += 1
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            metrics.RECORDS.labels("dropped").inc()
            log.error("records.dropped", call_id=record.id, reason="queue full or closed")

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        log.info("records.starting", database=self.store.describe(), recordings_dir=str(self.recordings_dir))
        try:
            await self.store.migrate()
            self.ready = True
        except Exception as exc:  # the engine still takes calls; records are lost until fixed
            log.error("records.database_unavailable", error=str(exc), database=self.store.describe())
        task_status.started()
        try:
            async with httpx.AsyncClient(follow_redirects=False) as client, anyio.create_task_group() as tg:
                tg.start_soon(
                    run_retention, self.store, self.recordings_dir, self.s.retention_days, self.s.retention_interval_s
                )
                async for record in self._receive:
                    try:
                        await self._write(record, client, tg)
                    finally:
                        self.pending -= 1
                        del record  # not kept alive by the loop variable until the next call ends
                self._drained.set()  # closed by `flush`: every queued record is written
                tg.cancel_scope.cancel()  # retention and webhooks still in flight end with the engine
        finally:
            self.store.close()

    async def _write(self, record: CallRecord, client: httpx.AsyncClient, tg: anyio.abc.TaskGroup) -> None:
        if self.s.redact_digits:
            record = redact_record(record, self.s.redact_keep, self.s.redact_min_digits)
        try:
            if not self.ready:
                await self.store.migrate()
                self.ready = True
            await self.store.save(record)
            metrics.RECORDS.labels("saved").inc()
            log.info("records.saved", call_id=record.id, outcome=record.outcome, turns=len(record.transcript))
        except Exception as exc:
            metrics.RECORDS.labels("failed").inc()
            log.error("records.save_failed", call_id=record.id, error=str(exc))
        persona = self.settings.personas.get(record.persona)
        if persona is not None and persona.webhook_url:
            tg.start_soon(self._webhook, client, persona.webhook_url, record)

    async def _webhook(self, client: httpx.AsyncClient, url: str, record: CallRecord) -> None:
        async with self._webhook_slots:
            await webhook.deliver(
                client,
                url,
                record.to_json(),
                attempts=self.s.webhook_attempts,
                timeout_s=self.s.webhook_timeout_s,
                backoff_s=self.s.webhook_backoff_s,
            )

    async def flush(self, timeout_s: float) -> None:
        """Shutdown: take no more records and write the queued ones (bounded)."""
        self._send.close()
        with anyio.move_on_after(timeout_s) as scope:
            await self._drained.wait()
        if scope.cancelled_caught:
            log.error("records.flush_timed_out")

    def close(self) -> None:
        self.store.close()
