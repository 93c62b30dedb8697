"""A small ARI client for the operator tools: bounded REST requests (Basic auth, as the engine
sends them) and an events WebSocket for the tools' own app name.

It is separate from the engine's supervised connection on purpose: a one-shot tool wants a
plain status code back (401, 404) to explain, not reconnects; and it must never subscribe to
the engine's app (a second WebSocket for an app takes it over, FACT 40).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ..config import AriSettings

MAX_EVENT_BYTES = 1024 * 1024


class AriUnreachable(Exception):
    """No HTTP answer from Asterisk (refused, timed out, DNS)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def channelvars(self) -> dict:
        """The channel variables an externalMedia answer carries (more/ M1, M15); {} when none."""
        variables = self.body.get("channelvars") if isinstance(self.body, dict) else None
        return variables if isinstance(variables, dict) else {}

    @property
    def message(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("message") or self.body.get("error") or "")[:200]
        return str(self.body)[:200] if self.body else ""


class AriProbe:
    def __init__(self, settings: AriSettings, timeout_s: float | None = None):
        self.settings = settings
        self.base = settings.url + "ari"
        self._secret = settings.password.get_secret_value()
        self._http = httpx.AsyncClient(
            timeout=timeout_s or settings.request_timeout_s, auth=(settings.username, self._secret)
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def scrub(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***").replace(urllib.parse.quote_plus(self._secret), "***")
            text = text.replace(urllib.parse.quote(self._secret, safe=""), "***")
        return text

    async def request(self, method: str, path: str, **params: Any) -> Answer:
        params = {k: v for k, v in params.items() if v is not None}
        try:
            response = await self._http.request(method, self.base + path, params=params)
        except (httpx.HTTPError, OSError) as exc:
            raise AriUnreachable(self.scrub(f"{type(exc).__name__}: {exc}")) from None
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text[:200]
        return Answer(response.status_code, body)

    async def get(self, path: str, **params: Any) -> Answer:
        return await self.request("GET", path, **params)

    async def post(self, path: str, **params: Any) -> Answer:
        return await self.request("POST", path, **params)

    async def delete(self, path: str, **params: Any) -> Answer:
        return await self.request("DELETE", path, **params)

    async def hang_up(self, channel_id: str) -> None:
        """Delete a channel the tool created, even while the tool is being cancelled; bounded."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.settings.request_timeout_s):
            try:
                await self.delete(f"/channels/{channel_id}")
            except AriUnreachable:
                pass

    @asynccontextmanager
    async def events(self, app: str) -> AsyncIterator[EventLog]:
        """The events WebSocket of `app` (api_key in the query, FACT 47), read in the background."""
        url = self.base.replace("http", "ws", 1) + "/events?" + urllib.parse.urlencode(
            {"app": app, "api_key": f"{self.settings.username}:{self._secret}"}
        )
        try:
            with anyio.fail_after(self.settings.request_timeout_s):
                ws = await connect(url, max_size=MAX_EVENT_BYTES, open_timeout=None, close_timeout=1)
        except InvalidStatus as exc:
            raise AriUnreachable(f"events WebSocket refused: HTTP {exc.response.status_code}") from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise AriUnreachable(self.scrub(f"events WebSocket: {type(exc).__name__}: {exc}")) from None
        log = EventLog()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(log.read, ws)
                try:
                    yield log
                finally:
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                await ws.close()


class EventLog:
    """Every event received so far, and a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._changed = anyio.Event()

    async def read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                try:
                    event = json.loads(message)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    self.events.append(event)
                    self._changed.set()
                    self._changed = anyio.Event()
        except ConnectionClosed:
            pass

    async def wait_for(self, predicate: Callable[[dict], bool], timeout: float, since: int = 0) -> dict | None:
        """The first event from index `since` on that matches, or None after `timeout` seconds."""
        with anyio.move_on_after(timeout):
            seen = since
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                await self._changed.wait()
        return None
