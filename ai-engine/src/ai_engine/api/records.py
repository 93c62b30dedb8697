"""Call records over HTTP. Every route needs `Authorization: Bearer <api.token>` (the records
are personal data): 401 without it or with a wrong one; with no `api.token` configured the
routes are disabled (403 saying how to enable them). The check is the app's (api/http.py).

  GET /calls                  live calls (`calls`) and the history (`history`: filters, paging, newest first)
  GET /calls/export.jsonl     the history, same filters, one JSON record per line, oldest first
  GET /calls/{id}             one record with its transcript (a live call: what is known so far)
  GET /calls/{id}/recording   the call's recording (audio/wav), when the persona records
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from ..observability.logs import get_logger
from ..records.retention import recording_path
from ..records.service import RecordsService
from ..records.store import CallFilter

log = get_logger(__name__)

MAX_PAGE = 500
CALL_ID = r"^[A-Za-z0-9_-]{1,64}$"


class RecordsView(Protocol):
    """What these routes read from the engine."""

    @property
    def records(self) -> RecordsService | None: ...

    def active_calls(self) -> list[dict]: ...

    def live_record(self, call_id: str) -> dict | None: ...


class BearerAuth(Protocol):
    """The API's token check (api/http.py): is a token configured, does the request carry it."""

    @property
    def configured(self) -> bool: ...

    def ok(self, request: Request) -> bool: ...


class Denied(Exception):
    """Raised by the token check; the app answers with `response` (api/http.py)."""

    def __init__(self, response: JSONResponse):
        super().__init__(response.status_code)
        self.response = response


def _filters(
    since: dt.datetime | None = Query(None, description="Calls started at or after (ISO 8601)."),
    until: dt.datetime | None = Query(None, description="Calls started before (ISO 8601)."),
    caller: str | None = Query(None, max_length=64, description="Part of the caller number."),
    persona: str | None = Query(None, max_length=64),
    outcome: str | None = Query(None, max_length=32),
    text: str | None = Query(None, max_length=200, description="Words in the transcript, any case."),
) -> CallFilter:
    return CallFilter(since=since, until=until, caller=caller, persona=persona, outcome=outcome, text=text)


def records_router(engine: RecordsView, auth: BearerAuth) -> APIRouter:
    def authorized(request: Request) -> None:
        if not auth.configured:
            raise Denied(
                JSONResponse({"error": "/calls is disabled: set AI_ENGINE_API__TOKEN and send it as a bearer token"}, 403)
            )
        if not auth.ok(request):
            raise Denied(
                JSONResponse({"error": "missing or wrong bearer token"}, 401, headers={"WWW-Authenticate": "Bearer"})
            )

    router = APIRouter(dependencies=[Depends(authorized)])

    @router.get("/calls", response_model=None)
    async def list_calls(
        flt: CallFilter = Depends(_filters),
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0, le=10_000_000),
    ) -> dict | JSONResponse:
        live = [
            c
            for c in engine.active_calls()
            if (not flt.persona or c.get("persona") == flt.persona) and (not flt.caller or flt.caller in str(c.get("caller")))
        ]
        records, total = [], 0
        service = engine.records
        if service is not None:
            try:
                rows, total = await service.store.list(flt, limit, offset)
            except Exception as exc:  # the live calls are still worth showing
                _unavailable(exc)
                return JSONResponse({"calls": live, "history": [], "error": "call records are unavailable"}, 503)
            records = [r.to_json() for r in rows]
        next_offset = offset + len(records) if offset + len(records) < total else None
        return {"calls": live, "history": records, "total": total, "limit": limit, "offset": offset, "next_offset": next_offset}

    @router.get("/calls/export.jsonl")
    async def export(flt: CallFilter = Depends(_filters)) -> StreamingResponse:
        service = engine.records

        async def lines() -> AsyncIterator[bytes]:
            if service is None:
                return
            try:
                async for record in service.store.iter_all(flt):
                    yield json.dumps(record.to_json(), ensure_ascii=False).encode() + b"\n"
            except Exception as exc:  # headers are sent: the export ends short, and says so in the log
                log.error("records.export_failed", error=str(exc))

        return StreamingResponse(
            lines(),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="calls.jsonl"'},
        )

    @router.get("/calls/{call_id}")
    async def get_call(call_id: str = Path(pattern=CALL_ID)) -> dict:
        live = engine.live_record(call_id)
        if live is not None:
            return live
        record = await _record(call_id)
        return record.to_json()

    @router.get("/calls/{call_id}/recording")
    async def get_recording(call_id: str = Path(pattern=CALL_ID)) -> FileResponse:
        record = await _record(call_id)
        service = engine.records
        path = recording_path(service.recordings_dir, record.recording) if service and record.recording else None
        if path is None or not path.is_file():
            raise HTTPException(404, "no recording for this call")
        return FileResponse(path, media_type="audio/wav", filename=path.name)

    async def _record(call_id: str):
        service = engine.records
        record = None
        if service is not None:
            try:
                record = await service.store.get(call_id)
            except Exception as exc:
                raise _unavailable(exc) from None
        if record is None:
            raise HTTPException(404, "no such call")
        return record

    return router


def _unavailable(exc: Exception) -> HTTPException:
    log.error("records.read_failed", error=str(exc))
    return HTTPException(503, "call records are unavailable")
