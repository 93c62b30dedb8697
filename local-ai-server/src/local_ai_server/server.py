"""The HTTP/WebSocket edge: `/v1/realtime` (one session per WebSocket), `/health`, `/metrics`."""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import structlog
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from . import metrics
from .runtime import Runtime
from .realtime.session import Session

log = structlog.get_logger("local_ai_server.server")

REALTIME_PATH = "/v1/realtime"
CALL_ID_HEADER = "x-call-id"  # the engine's call id, bound into every log line of the session
_CALL_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def create_app(runtime: Runtime, on_fatal: Callable[[str], None] | None = None) -> Starlette:
    """`on_fatal` is called when the models cannot be loaded (the process should exit)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            if not runtime.ready:
                tg.start_soon(_load, runtime, on_fatal)
            else:  # models given already loaded (tests, embedding): only the filler to make
                await runtime.prepare_filler()
            yield
            tg.cancel_scope.cancel()

    async def health(request: Request) -> JSONResponse:
        status = "ok" if runtime.ready else ("error" if runtime.load_error else "loading")
        code = 200 if status == "ok" else 503
        if runtime.settings.auth_token is not None and not _authorized(request.headers, runtime):
            return JSONResponse({"status": status}, status_code=code)  # no paths or errors to strangers
        body = {
            "status": status,
            "models": {name: s.to_json() for name, s in runtime.models.status.items()},
            "sessions": runtime.active_sessions,
            "max_sessions": runtime.settings.server.max_sessions,
        }
        if runtime.load_error:
            body["error"] = runtime.load_error
        return JSONResponse(body, status_code=code)

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def realtime(websocket: WebSocket) -> None:
        denial = _check_upgrade(websocket, runtime)
        if denial is not None:
            await websocket.send_denial_response(denial)
            return
        await websocket.accept()
        runtime.active_sessions += 1
        metrics.SESSIONS_ACTIVE.inc()
        metrics.SESSIONS_TOTAL.inc()
        session = Session(runtime, call_id=_call_id(websocket))
        try:
            await session.run(_incoming(websocket), websocket.send_text)
        finally:
            runtime.active_sessions -= 1
            metrics.SESSIONS_ACTIVE.dec()
            try:
                await websocket.close()
            except Exception:
                pass

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/metrics", prometheus),
            WebSocketRoute(REALTIME_PATH, realtime),
        ],
        lifespan=lifespan,
    )


def make_uvicorn_server(runtime: Runtime) -> uvicorn.Server:
    """The app under uvicorn, configured from the settings. If the models cannot be loaded the
    server shuts down (and `runtime.load_error` says why)."""
    server: uvicorn.Server

    def on_fatal(reason: str) -> None:
        server.should_exit = True

    settings = runtime.settings
    config = uvicorn.Config(
        create_app(runtime, on_fatal=on_fatal),
        host=settings.server.host,
        port=settings.server.port,
        ws="websockets-sansio",
        # Frames past 4x the per-message limit close the socket (1009); smaller oversized
        # messages get an `error` event from the session and the session goes on.
        ws_max_size=settings.server.max_message_bytes * 4,
        ws_per_message_deflate=False,
        lifespan="on",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    return server


async def _load(runtime: Runtime, on_fatal: Callable[[str], None] | None) -> None:
    try:
        await runtime.load()
    except Exception:
        log.error("models.load_failed", error=runtime.load_error)
        if on_fatal is not None:
            on_fatal(runtime.load_error or "model load failed")


def _authorized(headers, runtime: Runtime) -> bool:
    """True when no token is configured (server.allow_no_auth) or the request carries it."""
    token = runtime.settings.auth_token
    if token is None:
        return True
    scheme, _, given = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())


def _call_id(websocket: WebSocket) -> str | None:
    """The engine's call id from `X-Call-Id`: at most 64 of [A-Za-z0-9._-], else ignored (logged)."""
    value = websocket.headers.get(CALL_ID_HEADER)
    if value is None:
        return None
    if _CALL_ID.fullmatch(value) is None:
        log.warning("ws.call_id_ignored", reason="not 1-64 characters of [A-Za-z0-9._-]", length=len(value))
        return None
    return value


def _check_upgrade(websocket: WebSocket, runtime: Runtime) -> Response | None:
    if not _authorized(websocket.headers, runtime):
        log.warning("ws.unauthorized", client=_peer(websocket))
        return JSONResponse({"error": {"type": "invalid_request_error", "code": "unauthorized",
                                       "message": "missing or wrong bearer token"}},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
    if not runtime.ready:
        return JSONResponse({"error": {"type": "server_error", "code": "models_loading",
                                       "message": "models are not loaded yet; see /health"}}, status_code=503)
    if runtime.active_sessions >= runtime.settings.server.max_sessions:
        runtime.admission.refused("too_many_sessions")
        return JSONResponse({"error": {"type": "server_error", "code": "too_many_sessions",
                                       "message": "the server is at its session limit"}}, status_code=503)
    if runtime.admission.refuses_sessions():
        runtime.admission.refused("overloaded")
        return JSONResponse({"error": {"type": "server_error", "code": "overloaded",
                                       "message": "the server is overloaded: a new call would wait too long "
                                                  "for its answers; try again shortly"}},
                            status_code=503, headers={"Retry-After": "2"})
    return None


def _peer(websocket: WebSocket) -> str | None:
    return f"{websocket.client.host}:{websocket.client.port}" if websocket.client else None


async def _incoming(websocket: WebSocket) -> AsyncIterator[str | bytes]:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            yield message["text"]
        elif message.get("bytes") is not None:
            yield message["bytes"]
