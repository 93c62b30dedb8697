"""A small HTTP/1.1 + WebSocket server on one port, like Asterisk's built-in HTTP server.

Plain requests go to ``rest_handler(request) -> Response``; WebSocket upgrades go to
``ws_handler(request) -> Response | None`` (a Response refuses the upgrade with that status, e.g.
401 or 400 as in FACT 48; None accepts it) and then ``ws_opened(ws)``. Responses carry Asterisk's
headers (``Server: Asterisk/22.10.1``, ``Cache-Control: no-cache, no-store``).
"""
from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import socket
import urllib.parse
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Entity",
           500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


@dataclass
class Request:
    method: str
    target: str
    path: str
    query: dict                      # last value wins, like Asterisk
    headers: dict                    # lower-case names
    body: bytes = b""
    host: str = ""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: list = field(default_factory=list)


def _head(status: int, headers: list) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
             "Server: Asterisk/22.10.1",
             "Date: " + email.utils.formatdate(usegmt=True),
             "Cache-Control: no-cache, no-store"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def encode_response(resp: Response) -> bytes:
    headers = list(resp.headers)
    if resp.body and resp.content_type:
        headers.append(("Content-type", resp.content_type))
    headers.append(("Content-Length", str(len(resp.body))))
    return _head(resp.status, headers) + resp.body


class WsConnection:
    """Server side of an events WebSocket."""

    _ids = 0

    def __init__(self, writer: asyncio.StreamWriter, request: Request):
        WsConnection._ids += 1
        self.id = WsConnection._ids
        self.request = request
        self._writer = writer
        self._ws = Connection(ConnectionType.SERVER)
        self.closed = False
        self.sent: list[str] = []
        self.on_message = None   # set for /media/<id> connections (externalmedia_websocket.py)

    def send_bytes(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._writer.write(self._ws.send(BytesMessage(data=data)))
        except (LocalProtocolError, RuntimeError, OSError):
            self.closed = True

    def send_text(self, text: str) -> None:
        if self.closed:
            return
        try:
            self._writer.write(self._ws.send(TextMessage(data=text)))
            self.sent.append(text)
        except (LocalProtocolError, RuntimeError, OSError):
            self.closed = True

    def close(self, code: int = 1000) -> None:
        """Close with a close frame."""
        if self.closed:
            return
        self.closed = True
        try:
            self._writer.write(self._ws.send(CloseConnection(code=code)))
        except (LocalProtocolError, RuntimeError, OSError):
            pass
        self._writer.close()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        self.closed = True
        self._writer.transport.abort()

    def receive(self, data: bytes) -> bool:
        """Feed bytes from the client; False when the connection is over."""
        try:
            self._ws.receive_data(data or None)
            for ev in self._ws.events():
                if isinstance(ev, Ping):
                    self._writer.write(self._ws.send(ev.response()))
                elif isinstance(ev, CloseConnection):
                    if not self.closed:
                        try:
                            self._writer.write(self._ws.send(ev.response()))
                        except LocalProtocolError:
                            pass
                    return False
                elif isinstance(ev, (TextMessage, BytesMessage)):
                    if self.on_message is not None:   # a chan_websocket media connection
                        self.on_message(ev)
                    # the events WebSocket: Asterisk ignores what the client sends
        except (RemoteProtocolError, LocalProtocolError):
            return False
        return bool(data)


class HttpServer:
    def __init__(self, host: str, port: int,
                 rest_handler: Callable[[Request], Awaitable[Response]],
                 ws_handler: Callable[[Request], Response | None],
                 ws_opened: Callable[[WsConnection], None],
                 ws_closed: Callable[[WsConnection], None]):
        self.host, self.port = host, port
        self._rest, self._ws_check = rest_handler, ws_handler
        self._ws_opened, self._ws_closed = ws_opened, ws_closed
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self.websockets: set[WsConnection] = set()

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._serve, sock=sock)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for ws in list(self.websockets):
            ws.abort()
        for w in list(self._conns):
            w.transport.abort()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        self._conns.add(writer)
        try:
            while True:
                req = await self._read_request(reader)
                if req is None:
                    break
                if "websocket" in req.header("upgrade").lower():
                    await self._websocket(req, reader, writer)
                    break
                resp = await self._rest(req)
                # let events published while handling go out first (FACT 4: the event arrives
                # before the response)
                await asyncio.sleep(0)
                writer.write(encode_response(resp))
                await writer.drain()
                if req.header("connection").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._conns.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = b""
        length = int(headers.get("content-length", "0") or 0)
        if length:
            body = await reader.readexactly(length)
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        return Request(method.upper(), target, urllib.parse.unquote(parts.path), query,
                       headers, body, headers.get("host", ""))

    async def _websocket(self, req: Request, reader, writer) -> None:
        refusal = self._ws_check(req)
        if refusal is not None:
            writer.write(encode_response(refusal))
            await writer.drain()
            return
        key = req.header("sec-websocket-key").encode()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        writer.write(_head(101, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                 ("Sec-WebSocket-Accept", accept)]))
        ws = WsConnection(writer, req)
        self.websockets.add(ws)
        self._ws_opened(ws)
        try:
            while not ws.closed:
                data = await reader.read(65536)
                if not ws.receive(data):
                    break
        finally:
            self.websockets.discard(ws)
            ws.closed = True
            self._ws_closed(ws)
