"""Helpers of the call-records integration tests: the API with the token, waiting for a saved
record, and a local webhook receiver (h11 over a real loopback socket)."""
from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import h11
import httpx

TOKEN = "records-test-token-8f2e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def api(rig) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=rig.http_url, headers=AUTH, timeout=5)


async def saved_record(http: httpx.AsyncClient, timeout: float = 8.0, **filters) -> dict:
    """The one finished call's record, once it is saved (in `history`)."""
    with anyio.fail_after(timeout):
        while True:
            page = (await http.get("/calls", params=filters)).json()
            if page["history"]:
                assert len(page["history"]) == 1, page
                return (await http.get(f"/calls/{page['history'][0]['id']}")).json()
            await anyio.sleep(0.05)


@dataclass
class WebhookReceiver:
    """Answers `statuses` in turn (then 200); `hang=True`: reads the request and never answers."""

    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    bodies: list[bytes] = field(default_factory=list)
    received: anyio.Event = field(default_factory=anyio.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def serve(self, *, task_status=anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        task_status.started()
        await listener.serve(self._handle)

    async def _handle(self, stream) -> None:
        async with stream:
            conn = h11.Connection(h11.SERVER)
            body = b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    try:
                        conn.receive_data(await stream.receive())
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            self.bodies.append(body)
            self.received.set()
            if self.hang:
                await anyio.sleep_forever()
            status = self.statuses.pop(0) if self.statuses else 200
            await stream.send(conn.send(h11.Response(status_code=status, headers=[("content-length", "0")])))
            await stream.send(conn.send(h11.EndOfMessage()))
