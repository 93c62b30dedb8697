"""AsteriskEmulator: the public face (see the package docstring for the API)."""
from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Callable

from .audiosocket_client import ConnLog
from .caller import Call
from .clock import MediaClock
from .events import dumps
from .pbx import Pbx
from .rest import MISSING_APP_HTML, RestApi, auth_failed, authorized
from .server import HttpServer, Request, Response, WsConnection


class AsteriskEmulator:
    def __init__(self, app: str = "ai-agent", username: str = "ai-agent",
                 password: str = "secret",
                 audiosocket_address: tuple[str, int] = ("127.0.0.1", 8090),
                 sounds_dir: str | None = None, fork_context: str = "ai-agent-media-fork",
                 stasis_context: str = "ai-agent-stasis", host: str = "127.0.0.1",
                 port: int = 0, extra_contexts: dict | None = None,
                 stasis_delay: float = 0.0005, recordings_dir: str | None = None):
        self.app = app
        self.username, self.password = username, password
        self._config = dict(app=app, audiosocket_address=tuple(audiosocket_address),
                            sounds_dir=str(sounds_dir) if sounds_dir is not None else None,
                            fork_context=fork_context, stasis_context=stasis_context,
                            extra_contexts=extra_contexts, stasis_delay=stasis_delay,
                            recordings_dir=str(recordings_dir) if recordings_dir is not None else None)
        self.host, self.port = host, port
        self.rest_log: list[dict] = []
        self._injections: list[dict] = []
        self._ws_refused = False
        self._rest_waiters: list[tuple[Callable, asyncio.Future]] = []
        self.pbx: Pbx | None = None
        self._server: HttpServer | None = None
        self._clock: MediaClock | None = None
        self._api: RestApi | None = None

    # ---- lifecycle
    async def __aenter__(self) -> "AsteriskEmulator":
        await self.start()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.aclose(raise_errors=exc_type is None)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.pbx = Pbx(**self._config)
        self._api = RestApi(self.pbx)
        await self.start_http()
        self._clock = MediaClock(loop, self.pbx.tick, on_error=self.pbx.record_error)
        self._clock.start()

    async def aclose(self, raise_errors: bool = True) -> None:
        """Stop everything: media clock, background tasks, AudioSocket connections (plain
        close), WebSockets and the HTTP server. Raises if the emulator had internal errors."""
        if self._clock is not None:
            await self._clock.stop()
            self._clock = None
        if self.pbx is not None:
            await self.pbx.aclose()
        await self.stop_http()
        for _, fut in self._rest_waiters:
            if not fut.done():
                fut.cancel()
        if raise_errors and self.pbx is not None and self.pbx.errors:
            raise RuntimeError(f"asterisk_emulator had {len(self.pbx.errors)} internal "
                               "error(s)") from self.pbx.errors[0]

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions inside the emulator (empty when all is well)."""
        return self.pbx.errors

    # ---- HTTP server away and back (same port)
    async def start_http(self) -> None:
        if self._server is not None:
            return
        self._server = HttpServer(self.host, self.port, self._handle_rest, self._check_ws,
                                  self._ws_opened, self._ws_closed)
        await self._server.start()
        self.port = self._server.port

    async def stop_http(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    async def drop_events_ws(self, graceful: bool = False, code: int = 1000) -> None:
        """Close every events WebSocket from the Asterisk side (abrupt TCP close by default,
        a close frame with ``graceful``). Apps stay registered but inactive (FACT 36)."""
        if self._server is None:
            return
        for ws in list(self._server.websockets):
            if graceful:
                ws.close(code)
            else:
                ws.abort()
            self.pbx.hub.detach(ws)
        await asyncio.sleep(0)

    def set_ws_refused(self, refused: bool) -> None:
        """While refused, new events WebSocket upgrades get 503."""
        self._ws_refused = refused

    def inject_rest_error(self, method: str, path_regex: str, status: int,
                          body: Any = None, count: int | None = 1) -> None:
        """The next ``count`` requests (None: all) matching ``method`` and ``path_regex``
        (``re.search`` on the path, e.g. ``r"/bridges/[^/]+/addChannel$"``) get ``status``
        with ``body`` (dict/list → JSON, str/bytes → text) instead of being handled."""
        self._injections.append({"method": method.upper(), "rx": re.compile(path_regex),
                                 "status": status, "body": body, "count": count})

    # ---- the world
    @property
    def ari_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def channels(self) -> dict:
        return self.pbx.channels

    @property
    def bridges(self) -> dict:
        return self.pbx.bridges

    @property
    def playbacks(self) -> dict:
        """Live playbacks by id (the one playing, or the first queued, per id)."""
        return {pid: self.pbx.get_playback(pid) for pid in self.pbx.playbacks}

    @property
    def calls(self) -> list[Call]:
        return self.pbx.calls

    @property
    def event_log(self) -> list[dict]:
        """Every event for an app: ``{"t", "app", "event", "delivered"}`` (delivered False =
        dropped because the app had no events WebSocket, FACT 37)."""
        return self.pbx.hub.log

    @property
    def audiosocket_log(self) -> list[ConnLog]:
        return self.pbx.audiosocket_log

    @property
    def rtp_legs(self) -> list:
        """Every externalMedia RTP leg (``rtp_leg.RtpLeg``: ``log``, ``dropped``, ``local_port``)."""
        return self.pbx.rtp_legs

    @property
    def websocket_legs(self) -> list:
        """Every chan_websocket leg (``websocket_media.MediaWsLeg``: ``log``, ``queue``, ``connection_id``)."""
        return self.pbx.websocket_legs

    def audiosocket(self, uuid: str) -> ConnLog | None:
        for log in self.pbx.audiosocket_log:
            if log.uuid == uuid:
                return log
        return None

    def app_active(self, app: str | None = None) -> bool:
        return self.pbx.hub.is_active(app or self.app)

    async def place_call(self, exten: str = "5551234", stasis_args: list[str] | None = None,
                         caller_id: tuple[str, str] = ("Test Caller", "+4930123456"),
                         silence: str = "zeros", timeout: float = 5.0, app: str | None = None) -> Call:
        """An inbound call enters ``Stasis(<app>,<stasis_args or exten>)`` (``app``: another
        application than the emulator's own, as a dialplan naming it would). Returns once
        StasisStart was sent, or once Stasis() failed (``call.stasis_status == "FAILED"``:
        no events WebSocket, FACT 39)."""
        name, number = caller_id
        ch1 = self.pbx.originate_local(
            f"{exten}@{self._config['stasis_context']}",
            {"callerId": f'"{name}" <{number}>', "context": "caller", "extension": "s"},
            formats="ulaw", cid=None, other=None, variables={}, silence=silence,
            stasis_args=stasis_args, stasis_app=app)
        call = ch1.call
        await call.wait_stasis(timeout)
        return call

    async def wait_for_event(self, predicate: Callable[[dict], bool], timeout: float = 5.0,
                             since: int | None = 0, delivered_only: bool = True) -> dict:
        """First event (from ``event_log[since:]``; ``since=None``: only future ones)
        matching ``predicate``."""
        return await self.pbx.hub.wait_for(predicate, timeout, since, delivered_only)

    async def wait_for_rest(self, predicate: Callable[[dict], bool], timeout: float = 5.0,
                            since: int | None = 0) -> dict:
        """First ``rest_log`` entry (from ``since``) matching ``predicate``."""
        start = len(self.rest_log) if since is None else since
        for entry in self.rest_log[start:]:
            if predicate(entry):
                return entry
        fut = asyncio.get_running_loop().create_future()
        item = (predicate, fut)
        self._rest_waiters.append(item)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._rest_waiters.remove(item)

    # ---- HTTP plumbing
    async def _handle_rest(self, req: Request) -> Response:
        loop = asyncio.get_running_loop()
        entry = {"t": loop.time(), "method": req.method, "path": req.path,
                 "query": dict(req.query), "body": _json_or_none(req.body)}
        if not req.path.startswith("/ari/"):
            resp = Response(404, b'{"message":"Resource not found"}')
        elif not authorized(req, self.username, self.password):
            resp = auth_failed()
        else:
            try:
                resp = self._injected(req) or await self._api.dispatch(req)
            except Exception as exc:   # an emulator bug: answer 500, remember it
                self.pbx.record_error(exc)
                resp = Response(500, dumps({"message": f"emulator error: {exc!r}"}).encode())
        entry.update(status=resp.status, response=_json_or_none(resp.body),
                     t_response=loop.time())
        self.rest_log.append(entry)
        for pred, fut in list(self._rest_waiters):
            if not fut.done() and pred(entry):
                fut.set_result(entry)
        return resp

    def _injected(self, req: Request) -> Response | None:
        for inj in self._injections:
            if inj["method"] == req.method and inj["rx"].search(req.path):
                if inj["count"] is not None:
                    inj["count"] -= 1
                    if inj["count"] <= 0:
                        self._injections.remove(inj)
                body = inj["body"]
                if isinstance(body, (dict, list)):
                    return Response(inj["status"], dumps(body).encode())
                if isinstance(body, str):
                    body = body.encode()
                return Response(inj["status"], body or b"", "text/plain")
        return None

    def _check_ws(self, req: Request) -> Response | None:
        if req.path.startswith("/media/"):
            return self.pbx.media_ws_check(req.path[len("/media/"):])    # more/ M16: no credentials
        if req.path != "/ari/events":
            return Response(404, b'{"message":"Resource not found"}')
        if self._ws_refused:
            return Response(503, b"Service Unavailable", "text/plain")
        if not authorized(req, self.username, self.password):
            return auth_failed()                        # FACT 48
        if not req.query.get("app"):
            return Response(400, MISSING_APP_HTML.encode(), "text/html")
        return None

    def _ws_opened(self, ws: WsConnection) -> None:
        if ws.request.path.startswith("/media/"):
            self.pbx.media_ws_opened(ws, ws.request.path[len("/media/"):])
            return
        apps = [a for a in ws.request.query["app"].split(",") if a]
        sub_all = ws.request.query.get("subscribeAll", "").lower() in ("true", "1", "yes")
        self.pbx.hub.attach(ws, apps, sub_all)

    def _ws_closed(self, ws: WsConnection) -> None:
        if ws.request.path.startswith("/media/"):
            if self.pbx is not None:
                self.pbx.media_ws_closed(ws)
            return
        if self.pbx is not None:
            self.pbx.hub.detach(ws)


def _json_or_none(data: bytes):
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("latin-1")
