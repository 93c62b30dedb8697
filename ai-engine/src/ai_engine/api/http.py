"""FastAPI app: readiness for compose healthchecks, Prometheus metrics, calls (api/records.py).

Nothing here shows a credential: only names, states and counts.
"""

from __future__ import annotations

from typing import Protocol

import anyio
import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..config import HttpSettings
from ..providers.base import Provider
from .records import RecordsView, records_router


class EngineView(RecordsView, Protocol):
    """What the API reads from the engine."""

    @property
    def ari_connected(self) -> bool: ...

    @property
    def audiosocket_listening(self) -> bool: ...

    @property
    def providers(self) -> dict[str, Provider]: ...

    def active_calls(self) -> list[dict]: ...


def create_app(engine: EngineView) -> FastAPI:
    app = FastAPI(title="ai-engine", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> JSONResponse:
        providers: dict[str, bool] = {}
        async with anyio.create_task_group() as tg:
            for name, provider in engine.providers.items():
                tg.start_soon(_check, providers, name, provider)
        body = {
            "ari_connected": engine.ari_connected,
            "audiosocket_listening": engine.audiosocket_listening,
            "active_calls": len(engine.active_calls()),
            "providers": {name: _provider_state(engine.providers[name], ok) for name, ok in sorted(providers.items())},
        }
        ready = body["ari_connected"] and body["audiosocket_listening"] and all(providers.values())
        body["status"] = "ok" if ready else "degraded"
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(records_router(engine))  # /calls: live calls and call records, behind the token
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

    def __init__(self, engine: EngineView, settings: HttpSettings):
        config = uvicorn.Config(
            create_app(engine), host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="off"
        )
        self._server = _Server(config)
        self._socket = config.bind_socket()
        self.port: int = self._socket.getsockname()[1]

    async def serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            self._socket.close()
