"""The HTTP client asyncari's Swagger layer uses, made safe for a phone system.

asyncswagger11's stock client retries every failed request once after closing the shared
session (a POST /channels could then originate twice, and other calls' requests are cut),
allows 3 connections, waits up to 600 s, and puts the ARI password in every URL (httpx logs
URLs). This one sends each request once with a bounded timeout, authenticates REST with a Basic
header, and URL-encodes the `api_key` of the events WebSocket, the only place that needs it.
"""

from __future__ import annotations

import urllib.parse

import httpx
from asyncswagger11.http_client import AsynchronousHttpClient, BasicAuthenticator
from asyncwebsockets import create_websocket


class AriHttpClient(AsynchronousHttpClient):
    def __init__(self, host: str, username: str, password: str, timeout_s: float, max_connections: int = 64):
        super().__init__(auth=BasicAuthenticator(host, username, password))
        self._api_key = f"{username}:{password}"
        self.session = httpx.AsyncClient(
            timeout=timeout_s,
            limits=httpx.Limits(max_keepalive_connections=max_connections, max_connections=max_connections),
        )

    async def request(self, method, url, params=None, data=None, headers=None):
        headers = dict(headers or {})
        if self.authenticator is not None and self.authenticator.matches(url):
            self.authenticator.apply(headers, params)
        response = await self.session.request(method=method, url=url, params=params, content=data, headers=headers)
        response.raise_for_status()
        return response

    async def ws_connect(self, url, params=None, headers=None):
        query = dict(params or {})
        query["api_key"] = self._api_key
        ws = await create_websocket(url + "?" + urllib.parse.urlencode(query), headers=headers)
        self.websockets.add(ws)
        return ws
