"""The supervised ARI connection: connect, read events, reconnect with back-off.

asyncari has no reconnect of its own, ends silently when the socket closes and runs listeners
inline (docs/architecture.md §3). So this module owns the loop: it loads the Swagger API through asyncari's
`Client`, opens the events WebSocket, hands each event (a plain dict) to `on_event` (which must
not block), and after every (re)connect calls `on_connected` so the engine can rebuild its view
with GET requests: Asterisk drops events while no WebSocket is connected (FACT 37).
REST stays usable while only the WebSocket is down; it is re-created when Asterisk is away.
"""

from __future__ import annotations

import json
import random
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
from asyncari.client import Client
from wsproto.events import CloseConnection, Ping, TextMessage

from ...config import AriSettings
from ...observability import metrics
from ...observability.logs import get_logger
from .http import AriHttpClient
from .rest import AriRest

log = get_logger(__name__)

MAX_EVENT_BYTES = 1024 * 1024
STABLE_AFTER_S = 30.0  # a connection that lived this long resets the back-off


class _AriClient(Client):
    """asyncari's client, used for its Swagger loading and operations; events are read by
    `AriSupervisor` (asyncari's own reader ends silently on close and stalls on slow listeners)."""

    async def load_api(self) -> None:
        await self._init()

    async def open_events(self) -> Any:
        return await self.swagger.events.eventWebsocket(app=self.app)


class AriSupervisor:
    def __init__(
        self,
        settings: AriSettings,
        rest: AriRest,
        on_event: Callable[[dict], None],
        on_connected: Callable[[bool], Awaitable[None]],
    ):
        self.settings = settings
        self.rest = rest
        self._on_event = on_event
        self._on_connected = on_connected
        self._client: _AriClient | None = None
        self._http: AriHttpClient | None = None
        self._ws: Any = None
        self.connected = False
        self.connections = 0
        self._changed = anyio.Event()

    async def run(self) -> None:
        delay = self.settings.reconnect_min_s
        try:
            while True:
                started = anyio.current_time()
                try:
                    await self._connect_and_read()
                except Exception as exc:  # every failure here means: back off and try again
                    log.warning("ari.connect_failed", error=_safe_error(exc, self.settings), retry_in_s=round(delay, 2))
                    await self._close_client()
                if anyio.current_time() - started > STABLE_AFTER_S:
                    delay = self.settings.reconnect_min_s
                await anyio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.settings.reconnect_max_s)
        finally:
            with anyio.CancelScope(shield=True):
                await self._close_ws()
                await self._close_client()

    def _set_connected(self, value: bool) -> None:
        self.connected = value
        metrics.ARI_CONNECTED.set(int(value))
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_connected(self, value: bool = True) -> None:
        while self.connected != value:
            await self._changed.wait()

    async def drop(self) -> None:
        """Close the events WebSocket (shutdown, tests); the loop reconnects unless cancelled."""
        await self._close_ws()

    async def _connect_and_read(self) -> None:
        if self._client is None:
            await self._open_client()
        assert self._client is not None
        with anyio.fail_after(self.settings.request_timeout_s):
            self._ws = await self._client.open_events()
        self.connections += 1
        if self.connections > 1:
            metrics.ARI_RECONNECTS.inc()
        self._set_connected(True)
        log.info("ari.connected", url=self.settings.url, app=self.settings.app, connection=self.connections)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._on_connected, self.connections == 1)
                await self._read_events(self._ws)
                tg.cancel_scope.cancel()
        finally:
            self._set_connected(False)
            await self._close_ws()
            log.warning("ari.disconnected", app=self.settings.app)

    async def _open_client(self) -> None:
        host = urllib.parse.urlparse(self.settings.url).hostname or ""
        http = AriHttpClient(
            host, self.settings.username, self.settings.password.get_secret_value(), self.settings.request_timeout_s
        )
        client = _AriClient(None, self.settings.url, [self.settings.app], http)
        try:
            with anyio.fail_after(self.settings.request_timeout_s * 3):
                await client.load_api()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await http.close()
            raise
        self._http, self._client = http, client
        self.rest.attach(client.swagger)

    async def _close_client(self) -> None:
        client, http = self._client, self._http
        self._client = self._http = None
        if client is not None:
            self.rest.detach(client.swagger)
        if http is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await http.close()

    async def _close_ws(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                try:
                    await ws.close(code=1000)
                except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass
            if self._http is not None:
                self._http.websockets.discard(ws)

    async def _read_events(self, ws: Any) -> None:
        try:
            async for msg in ws:
                if isinstance(msg, CloseConnection):
                    return
                if isinstance(msg, Ping):
                    continue
                if not isinstance(msg, TextMessage):
                    log.warning("ari.unexpected_message", kind=type(msg).__name__)
                    continue
                if len(msg.data) > MAX_EVENT_BYTES:
                    log.error("ari.event_too_large", size=len(msg.data))
                    continue
                try:
                    event = json.loads(msg.data)
                except ValueError:
                    log.error("ari.event_not_json", head=msg.data[:80])
                    continue
                if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                    log.error("ari.event_malformed", head=msg.data[:80])
                    continue
                if event["type"] == "ApplicationReplaced":
                    # Another client took the app over (FACT 40): two engines must not share an app name.
                    log.error("ari.application_replaced", app=self.settings.app)
                    return
                try:
                    self._on_event(event)
                except Exception:  # a bug handling one event must not cost the connection (and its events)
                    log.exception("ari.event_handler_failed", event_type=event["type"])
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return


def _safe_error(exc: BaseException, settings: AriSettings) -> str:
    """An error text without the password (handshake errors can quote the request URL)."""
    text = repr(exc)
    if isinstance(exc, httpx.HTTPStatusError):
        text = f"HTTP {exc.response.status_code} from {exc.request.url.copy_with(query=None)}"
    secret = settings.password.get_secret_value()
    if secret:
        # As written, as quoted in a path, and as `urlencode` writes the events WebSocket's
        # api_key (quote_plus: a space becomes "+").
        for form in (secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)):
            text = text.replace(form, "***")
    return text[:300]
