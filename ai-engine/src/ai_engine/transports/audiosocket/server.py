"""The AudioSocket TCP server: accepts Asterisk's connections and binds each to its call by UUID.

A connection must send its UUID frame first, within `uuid_timeout_s`. An unknown UUID, a UUID
already bound, a malformed frame or silence is refused: the socket is closed and a log line
says why. Nothing reaches a call's audio path unless the call asked for that UUID.
"""

from __future__ import annotations

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
        self._open = 0
        self.listening = False
        self.port: int | None = None

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host=self.settings.host, local_port=self.settings.port)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        self.listening = True
        log.info("audiosocket.listening", host=self.settings.host, port=self.port)
        task_status.started(self.port)
        try:
            async with listener:
                await listener.serve(self._handle)
        finally:
            self.listening = False

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        try:
            peer = "%s:%s" % stream.extra(anyio.abc.SocketAttribute.remote_address)[:2]
        except (OSError, TypeError):
            peer = "?"
        conn = AudioSocketConnection(
            stream, max_payload=self.settings.max_payload_bytes, read_timeout_s=self.settings.read_timeout_s, peer=peer
        )
        if self._open >= self._max_connections:
            await self._refuse(conn, "too many connections")
            return
        self._open += 1
        try:
            reason = await self._bind(conn)
            if reason is not None:
                await self._refuse(conn, reason)
                return
            metrics.AUDIOSOCKET_CONNECTIONS.labels("bound").inc()
            log.info("audiosocket.bound", peer=peer, uuid=str(conn.uuid))
            await conn.released.wait()
        finally:
            self._open -= 1
            await conn.aclose()

    async def _bind(self, conn: AudioSocketConnection) -> str | None:
        try:
            first = await conn.receive(timeout_s=self.settings.uuid_timeout_s)
        except TimeoutError:
            return f"no UUID frame within {self.settings.uuid_timeout_s} s"
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            return "closed before sending its UUID"
        except codec.ProtocolError as exc:
            return f"malformed first frame: {exc}"
        if not isinstance(first, codec.Uuid):
            return f"first frame is {type(first).__name__}, not the UUID"
        conn.uuid = first.uuid
        return self._binder(conn)

    async def _refuse(self, conn: AudioSocketConnection, reason: str) -> None:
        metrics.AUDIOSOCKET_CONNECTIONS.labels("refused").inc()
        log.warning("audiosocket.refused", peer=conn.peer, uuid=str(conn.uuid) if conn.uuid else None, reason=reason)
        await conn.aclose()
