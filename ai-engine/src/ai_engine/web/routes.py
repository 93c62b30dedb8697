"""The admin web page under /admin (docs/admin-ui.md): same port as the API, behind the API token.

  GET  /admin/login                 the login form (the only page without a session)
  POST /admin/login                 token → session cookie (Secure, HttpOnly, SameSite=Strict), 303 to /admin/
  POST /admin/logout                ends the session (CSRF token in the form)
  GET  /admin/, /admin/history, /admin/calls/{id}, /admin/health      the pages (HTML shells + our JS)
  GET  /admin/api/live              live calls as server-sent events (a snapshot whenever one changes)
  GET  /admin/api/calls             history: filters and paging as GET /calls
  GET  /admin/api/calls/{id}        one call (live or recorded); /recording: its audio
  POST /admin/api/calls/{id}/end    hang up a live call (X-CSRF-Token header)
  GET  /admin/api/health            ARI, listeners, providers, last doctor result, last hour
  GET  /admin/static/{name}         our CSS and JS (no call data: no session needed)

Without a session a page redirects to the login form and the JSON answers 401; with no `api.token`
configured every page answers 403 saying how to enable it. Nothing here shows the token.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path as FsPath
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import SecretStr

from ..api.records import CALL_ID, MAX_PAGE, _filters
from ..observability.logs import get_logger
from ..records.record import iso, utcnow
from ..records.retention import recording_path
from ..records.store import CallFilter
from . import doctor_result, views
from .session import COOKIE, LoginLimiter, Session, Sessions

log = get_logger(__name__)

HERE = FsPath(__file__).parent
STATIC = {p.name: p for p in (HERE / "static").iterdir() if p.suffix in (".css", ".js")}
SECTIONS = (("live", "/admin/", "Live calls"), ("history", "/admin/history", "History"), ("health", "/admin/health", "Health"))


def _compose(name: str, text: str, layout: str) -> str:
    """A signed-in page (its file starts with `<!-- title: ... -->`) inside the one layout: the
    header, the navigation with the current section marked, the log-out form."""
    first, body = text.split("\n", 1)
    title = first.removeprefix("<!-- title: ").removesuffix(" -->")
    current = ' aria-current="page"'
    nav = "".join(f'\n    <a href="{href}"{current if key == name else ""}>{label}</a>'
                  for key, href, label in SECTIONS) + "\n  "
    return layout.replace("{{title}}", title).replace("{{nav}}", nav).replace("{{body}}", body.rstrip("\n"))


def _pages() -> dict[str, str]:
    layout = (HERE / "pages" / "_layout.html").read_text()
    pages = {}
    for path in (HERE / "pages").glob("[!_]*.html"):
        text = path.read_text()
        pages[path.stem] = _compose(path.stem, text, layout) if text.startswith("<!-- title: ") else text
    return pages


PAGES = _pages()  # read once, at import
MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
MAX_LOGIN_BODY = 4096
MAX_STREAMS = 16  # open live-call streams at once
KEEPALIVE_S = 15.0  # a comment on a quiet stream, so proxies keep it open
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make browsers send `Origin: null`
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class _NeedLogin(Exception):
    def __init__(self, response: Response):
        self.response = response


def admin_router(engine: Any, token: SecretStr | None) -> APIRouter:
    sessions = Sessions()
    limiter = LoginLimiter()
    expected = token.get_secret_value().encode() if token is not None else None
    streams = {"open": 0}

    def page(name: str, session: Session | None = None, status: int = 200, message: str = "") -> HTMLResponse:
        html = PAGES[name].replace("{{csrf}}", session.csrf if session else "").replace("{{message}}", message)
        return HTMLResponse(html, status, headers=SECURITY_HEADERS)

    def disabled() -> HTMLResponse:
        return page("disabled", status=403)

    def session_of(request: Request) -> Session | None:
        return sessions.read(request.cookies.get(COOKIE))

    def page_session(request: Request) -> Session:
        if expected is None:
            raise _NeedLogin(disabled())
        session = session_of(request)
        if session is None:
            raise _NeedLogin(RedirectResponse("/admin/login", 303, headers=SECURITY_HEADERS))
        return session

    def api_session(request: Request) -> Session:
        session = session_of(request) if expected is not None else None
        if session is None:
            raise _NeedLogin(JSONResponse({"error": "log in at /admin/login"}, 401, headers=SECURITY_HEADERS))
        return session

    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        return origin is None or urlsplit(origin).netloc == request.headers.get("host")

    router = APIRouter(prefix="/admin")

    @router.get("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        if expected is None:
            return disabled()
        if session_of(request) is not None:
            return RedirectResponse("/admin/", 303)
        return page("login")

    @router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if expected is None:
            return disabled()
        if limiter.blocked():
            return page("login", status=429, message="Too many failed logins: wait a minute and try again.")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGIN_BODY:
                raise HTTPException(413, "too large")
        given = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0].strip().encode()
        if not same_origin(request) or not secrets.compare_digest(given, expected):
            limiter.failed()
            log.warning("admin.login_failed", client=request.client.host if request.client else None)
            return page("login", status=401, message="That is not the API token.")
        _, cookie = sessions.new()
        log.info("admin.login", client=request.client.host if request.client else None)
        response = RedirectResponse("/admin/", 303, headers=SECURITY_HEADERS)
        response.set_cookie(COOKIE, cookie, max_age=sessions.lifetime_s, path="/admin", secure=True, httponly=True, samesite="strict")
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        response = RedirectResponse("/admin/login", 303, headers=SECURITY_HEADERS)
        response.delete_cookie(COOKIE, path="/admin", secure=True, httponly=True, samesite="strict")
        return response

    @router.get("/", include_in_schema=False)
    async def live_page(session: Session = Depends(page_session)) -> Response:
        return page("live", session)

    @router.get("/history", include_in_schema=False)
    async def history_page(session: Session = Depends(page_session)) -> Response:
        return page("history", session)

    @router.get("/calls/{call_id}", include_in_schema=False)
    async def call_page(call_id: str = Path(pattern=CALL_ID), session: Session = Depends(page_session)) -> Response:
        return page("call", session)

    @router.get("/health", include_in_schema=False)
    async def health_page(session: Session = Depends(page_session)) -> Response:
        return page("health", session)

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        path = STATIC.get(name)
        if path is None:
            raise HTTPException(404, "no such file")
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers={"X-Content-Type-Options": "nosniff"})

    @router.get("/api/live", include_in_schema=False)
    async def live_events(request: Request, _: Session = Depends(api_session)) -> Response:
        if streams["open"] >= MAX_STREAMS:
            return JSONResponse({"error": "too many open live views"}, 429)
        cookie = request.cookies.get(COOKIE)

        async def events():
            streams["open"] += 1
            try:
                last = None
                while (session := sessions.read(cookie)) is not None:  # the stream ends with the session
                    snapshot = json.dumps(views.live_calls(engine))
                    if snapshot != last:  # with the server's clock: durations count from it, not the browser's
                        last = snapshot
                        yield f'data: {{"now": "{iso(utcnow())}", "calls": {snapshot}}}\n\n'
                    # Woken by the registry when a call comes or goes or its record grows (calls/registry.py).
                    with anyio.move_on_after(min(KEEPALIVE_S, max(session.expires - time.time(), 0) + 1)) as idle:
                        await engine.registry.wait_changed()
                    if idle.cancelled_caught:
                        yield ": keepalive\n\n"
                yield "event: expired\ndata: {}\n\n"
            finally:
                streams["open"] -= 1

        headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    @router.get("/api/calls", include_in_schema=False)
    async def history(
        flt: CallFilter = Depends(_filters),
        limit: int = Query(25, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0, le=10_000_000),
        _: Session = Depends(api_session),
    ) -> Response:
        service = engine.records
        if service is None:
            return JSONResponse({"history": [], "total": 0, "error": "call records are off (records.enabled)"}, headers=SECURITY_HEADERS)
        try:
            rows, total = await service.store.list(flt, limit, offset)
        except Exception as exc:
            log.error("admin.records_failed", error=str(exc))
            return JSONResponse({"history": [], "total": 0, "error": "call records are unavailable"}, 503, headers=SECURITY_HEADERS)
        history = [_summary(r.to_json()) for r in rows]
        return JSONResponse({"history": history, "total": total, "limit": limit, "offset": offset}, headers=SECURITY_HEADERS)

    @router.get("/api/calls/{call_id}", include_in_schema=False)
    async def one_call(call_id: str = Path(pattern=CALL_ID), _: Session = Depends(api_session)) -> Response:
        live = engine.live_record(call_id)
        if live is not None:
            return JSONResponse(live, headers=SECURITY_HEADERS)
        record = (await _stored(call_id)).to_json()
        if record["recording"]:
            record["recording"] = f"/admin/api/calls/{call_id}/recording"
        return JSONResponse(record, headers=SECURITY_HEADERS)

    @router.get("/api/calls/{call_id}/recording", include_in_schema=False)
    async def recording(call_id: str = Path(pattern=CALL_ID), _: Session = Depends(api_session)) -> Response:
        record = await _stored(call_id)
        service = engine.records
        path = recording_path(service.recordings_dir, record.recording) if record.recording else None
        if path is None or not path.is_file():
            raise HTTPException(404, "no recording for this call")
        return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "private, no-store"})

    @router.post("/api/calls/{call_id}/end", include_in_schema=False)
    async def end_call(request: Request, call_id: str = Path(pattern=CALL_ID), session: Session = Depends(api_session)) -> Response:
        if not same_origin(request) or not session.csrf_ok(request.headers.get("x-csrf-token")):
            return JSONResponse({"error": "missing or wrong CSRF token"}, 403, headers=SECURITY_HEADERS)
        if not engine.manager.end_call(call_id):
            return JSONResponse({"error": "no such live call"}, 404, headers=SECURITY_HEADERS)
        log.info("admin.end_call", call_id=call_id)
        return JSONResponse({"ending": call_id}, 202, headers=SECURITY_HEADERS)

    @router.get("/api/health", include_in_schema=False)
    async def health(_: Session = Depends(api_session)) -> Response:
        body = await views.health(engine)
        body["doctor"] = await anyio.to_thread.run_sync(doctor_result.load, engine.settings.records.data_dir)
        return JSONResponse(body, headers=SECURITY_HEADERS)

    async def _stored(call_id: str):
        service = engine.records
        record = None
        if service is not None:
            try:
                record = await service.store.get(call_id)
            except Exception as exc:
                log.error("admin.records_failed", error=str(exc))
                raise HTTPException(503, "call records are unavailable") from None
        if record is None:
            raise HTTPException(404, "no such call")
        return record

    return router


def _summary(record: dict) -> dict:
    """A history row: the record without its transcript (the call page fetches that)."""
    keys = ("id", "caller_number", "caller_name", "persona", "provider", "started_at", "duration_s", "outcome", "transfer_target")
    out = {k: record.get(k) for k in keys}
    out["turns"] = len(record.get("transcript") or [])
    out["recording"] = bool(record.get("recording"))
    return out


def install(app: Any, engine: Any, token: SecretStr | None) -> None:
    """Mount the admin page on the API's app (api/http.py)."""
    app.include_router(admin_router(engine, token))
    app.add_exception_handler(_NeedLogin, lambda _request, exc: exc.response)
