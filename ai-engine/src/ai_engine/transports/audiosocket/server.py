"""The AudioSocket TCP server: accepts Asterisk's connections and binds each to its call by UUID.

A connection must send its UUID frame first, within `uuid_timeout_s`. An unknown UUID, a UUID
already bound, a malformed frame or silence is refused: the socket is closed and a log line
says why. Nothing reaches a call's audio path unless the call asked for that UUID.

Connections are asyncio Protocols (`connection.py`): the UUID step runs in their receive
callback, and a timer per connection bounds it. At most `max_connections` are open at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio
import anyio.abc

from ...config import AudioSocketSettings
from ...observability import metrics
from ...observability.logs import get_logger
from . import codec
from .connection import AudioSocketConnection

log = get_logger(__name__)

# Returns None when the call took the connection, else the reason for refusing it.
Binder = Callable[[AudioSocketConnection], str | None]


class AudioSocketServer:
    def __init__(self, settings: AudioSocketSettings, binder: Binder, max_connections: int):
        self.settings = settings
        self._binder = binder
        self._max_connections = max_connections
        self._connections: set[AudioSocketConnection] = set()
        self._uuid_timers: dict[AudioSocketConnection, asyncio.TimerHandle] = {}
        self.listening = False
        self.port: int | None = None

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        loop = asyncio.get_running_loop()
        s = self.settings
        server = await loop.create_server(
            lambda: AudioSocketConnection(self, max_payload=s.max_payload_bytes), s.host, s.port, reuse_address=True
        )
        self.port = server.sockets[0].getsockname()[1]
        self.listening = True
        log.info("audiosocket.listening", host=s.host, port=self.port)
        task_status.started(self.port)
        try:
            await anyio.sleep_forever()
        finally:
            self.listening = False
            server.close()
            for conn in list(self._connections):
                conn.close()

    # ---- called by the connections ------------------------------------------------------

    def opened(self, conn: AudioSocketConnection) -> None:
        if len(self._connections) >= self._max_connections:
            self.refuse(conn, "too many connections")
            return
        self._connections.add(conn)
        loop = asyncio.get_running_loop()
        self._uuid_timers[conn] = loop.call_later(self.settings.uuid_timeout_s, self._uuid_timeout, conn)

    def first_frame(self, conn: AudioSocketConnection, event: codec.Event) -> None:
        self._stop_timer(conn)
        if not isinstance(event, codec.Uuid):
            self.refuse(conn, f"first frame is {type(event).__name__}, not the UUID")
            return
        conn.uuid = event.uuid
        reason = self._binder(conn)
        if reason is not None:
            self.refuse(conn, reason)
            return
        conn.bound = True
        metrics.AUDIOSOCKET_CONNECTIONS.labels("bound").inc()
        log.info("audiosocket.bound", peer=conn.peer, uuid=str(conn.uuid))

    def lost(self, conn: AudioSocketConnection) -> None:
        was_open = conn in self._connections
        self._connections.discard(conn)
        if self._stop_timer(conn) and was_open and not conn.bound:
            self.refuse(conn, "closed before sending its UUID")

    def refuse(self, conn: AudioSocketConnection, reason: str) -> None:
        self._stop_timer(conn)
        metrics.AUDIOSOCKET_CONNECTIONS.labels("refused").inc()
        log.warning("audiosocket.refused", peer=conn.peer, uuid=str(conn.uuid) if conn.uuid else None, reason=reason)
        conn.close()

    # ---- internals ----------------------------------------------------------------------

    def _uuid_timeout(self, conn: AudioSocketConnection) -> None:
        self._uuid_timers.pop(conn, None)
        self.refuse(conn, f"no UUID frame within {self.settings.uuid_timeout_s} s")

    def _stop_timer(self, conn: AudioSocketConnection) -> bool:
        timer = self._uuid_timers.pop(conn, None)
        if timer is None:
            return False
        timer.cancel()
        return True
