"""A local HTTP service for the `lookup` tool: answers every POST with a JSON object the test
chose (or a status, or nothing for a while), and keeps the requests it got. HTTP/1.1 parsed by
h11; one request per connection (the engine's client closes after each lookup)."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import anyio
import h11


class FakeLookupServer:
    def __init__(self, answer: dict | None = None, status: int = 200, delay_s: float = 0.0):
        self.answer = answer if answer is not None else {}
        self.status = status
        self.delay_s = delay_s
        self.requests: list[dict] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/lookup"

    @asynccontextmanager
    async def running(self):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, self._handle)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()  # serve() closes the listener as it ends

    async def _handle(self, stream) -> None:
        conn = h11.Connection(h11.SERVER)
        body = bytearray()
        async with stream:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    try:
                        conn.receive_data(await stream.receive(65536))
                    except anyio.EndOfStream:
                        conn.receive_data(b"")
                    continue
                if isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    break
            self.requests.append(json.loads(bytes(body) or b"{}"))
            if self.delay_s:
                await anyio.sleep(self.delay_s)
            payload = json.dumps(self.answer).encode()
            headers = [("content-type", "application/json"), ("content-length", str(len(payload)))]
            await stream.send(conn.send(h11.Response(status_code=self.status, headers=headers)))
            await stream.send(conn.send(h11.Data(data=payload)))
            await stream.send(conn.send(h11.EndOfMessage()))
