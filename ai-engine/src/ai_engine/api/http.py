"""FastAPI app: readiness for compose healthchecks, Prometheus metrics, calls (api/records.py).

Access: `/health` and `/metrics` are open (healthchecks and scrapers). `/health` shows anyone only
`status` (ok/degraded, and 200/503); its details (ARI, AudioSocket, media folder, providers,
active calls) need the API token. `/calls` lists caller numbers, so it always needs the token
(`Authorization: Bearer <api.token>`): 401 without it or with a wrong one. With no `api.token`
configured `/calls` is disabled: 403 saying how to enable it. Nothing here shows a credential.
"""

from __future__ import annotations

import secrets
from typing import Protocol

import anyio
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pydantic import SecretStr

from ..config import HttpSettings
from ..providers.base import Provider
from ..web.routes import install as install_admin
from .records import Denied, RecordsView, records_router


class EngineView(RecordsView, Protocol):
    """What the API reads from the engine."""

    @property
    def ari_connected(self) -> bool: ...

    @property
    def audiosocket_listening(self) -> bool: ...

    @property
    def media_writable(self) -> bool: ...

    @property
    def providers(self) -> dict[str, Provider]: ...

    def active_calls(self) -> list[dict]: ...


class _Auth:
    """Bearer-token check against `api.token` (constant-time compare)."""

    def __init__(self, token: SecretStr | None):
        self._token = token.get_secret_value().encode() if token is not None else None

    @property
    def configured(self) -> bool:
        return self._token is not None

    def ok(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return (
            self._token is not None
            and scheme.lower() == "bearer"
            and secrets.compare_digest(given.strip().encode(), self._token)
        )


def create_app(engine: EngineView, token: SecretStr | None = None) -> FastAPI:
    app = FastAPI(title="ai-engine", docs_url=None, redoc_url=None, openapi_url=None)
    auth = _Auth(token)

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        providers: dict[str, bool] = {}
        async with anyio.create_task_group() as tg:
            for name, provider in engine.providers.items():
                tg.start_soon(_check, providers, name, provider)
        body = {
            "ari_connected": engine.ari_connected,
            "audiosocket_listening": engine.audiosocket_listening,
            "media_writable": await anyio.to_thread.run_sync(lambda: engine.media_writable),
            "active_calls": len(engine.active_calls()),
            "providers": {name: _provider_state(engine.providers[name], ok) for name, ok in sorted(providers.items())},
        }
        ready = body["ari_connected"] and body["audiosocket_listening"] and body["media_writable"] and all(providers.values())
        status = "ok" if ready else "degraded"
        shown = {"status": status, **body} if auth.ok(request) else {"status": status}
        return JSONResponse(shown, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(records_router(engine, auth))  # /calls: live calls and call records, behind the token
    app.add_exception_handler(Denied, lambda _request, exc: exc.response)
    install_admin(app, engine, token)  # /admin: the admin web page (web/routes.py), behind the same token
    return app


def _provider_state(provider: Provider, ok: bool) -> dict:
    reason = None if ok else getattr(provider, "not_ready_reason", None)
    return {"ready": ok} if reason is None else {"ready": ok, "reason": reason}


async def _check(out: dict[str, bool], name: str, provider: Provider) -> None:
    out[name] = await provider.ready()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the engine handles SIGTERM itself."""

    def capture_signals(self):  # type: ignore[override]
        from contextlib import nullcontext

        return nullcontext()


class HttpServer:
    """uvicorn on a socket bound up front, so the port is known (and taken) before serving."""

    def __init__(self, engine: EngineView, settings: HttpSettings, token: SecretStr | None = None):
        config = uvicorn.Config(
            create_app(engine, token), host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="off"
        )
        self._server = _Server(config)
        self._socket = config.bind_socket()
        self.port: int = self._socket.getsockname()[1]

    async def serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            self._socket.close()
