"""The AudioSocket TCP server: accepts Asterisk's connections and binds each to its call by UUID.

A connection must send its UUID frame first. An unknown UUID, a UUID already bound, a malformed
frame or silence is refused: the socket is closed and a log line says why. Nothing reaches a
call's audio path unless the call asked for that UUID.

Data flows one way: the server creates each connection (`AudioSocketConnection` knows no server)
and is its first owner (`attach`); on the UUID frame it asks the binder, which hands the leg to
its call, and detaches. Until then a connection is "unidentified" and lives in its own budget
(`audiosocket.max_unidentified`), so sockets that never send a UUID cannot crowd out real legs:
they count against the unidentified budget only, never against `max_connections` of bound legs.
Each unidentified connection has a deadline: a stranger gets `uuid_timeout_s`; while the engine
itself waits for legs it originated (`awaited_legs()`), that many connections get the call
set-up bound instead (`calls.setup_timeout_s`): under load Asterisk may take seconds to send
the UUID of a leg the engine asked for.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from functools import partial

import anyio
import anyio.abc

from ...config import AudioSocketSettings
from ...observability import metrics
from ...observability.logs import get_logger
from . import codec
from .connection import AudioSocketConnection, EndKind, LegEnd

log = get_logger(__name__)

# Called with a connection whose `uuid` is set. Returns None when its call took the connection
# (and attached to it, or will), else the reason for refusing it.
Binder = Callable[[AudioSocketConnection], str | None]


class AudioSocketServer:
    def __init__(
        self,
        settings: AudioSocketSettings,
        binder: Binder,
        max_connections: int,
        *,
        awaited_legs: Callable[[], int] = lambda: 0,
        setup_timeout_s: float | None = None,
    ):
        self.settings = settings
        self._binder = binder
        self._max_connections = max_connections
        self._awaited_legs = awaited_legs
        self._setup_timeout_s = max(setup_timeout_s or 0.0, settings.uuid_timeout_s)
        # Bound legs belong to their calls, which release them: held weakly, so a released leg is
        # not kept alive by the server (the soak test counts live connections after 1,000 calls).
        self._bound: weakref.WeakSet[AudioSocketConnection] = weakref.WeakSet()
        self._unidentified: dict[AudioSocketConnection, asyncio.TimerHandle] = {}
        self._patient: set[AudioSocketConnection] = set()  # unidentified, with the set-up deadline
        self.listening = False
        self.port: int | None = None

    @property
    def open_connections(self) -> int:
        self._prune()
        return len(self._bound) + len(self._unidentified)

    @property
    def unidentified_connections(self) -> int:
        return len(self._unidentified)

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        loop = asyncio.get_running_loop()
        s = self.settings
        server = await loop.create_server(
            lambda: AudioSocketConnection(self._opened, max_payload=s.max_payload_bytes), s.host, s.port, reuse_address=True
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
            for conn in [*self._bound, *self._unidentified]:
                conn.close()

    # ---- admission ------------------------------------------------------------------------

    def _prune(self) -> None:
        """Bound legs belong to their calls, which close them: count the open ones."""
        for conn in [c for c in self._bound if c.closed]:
            self._bound.discard(conn)

    def _opened(self, conn: AudioSocketConnection) -> None:
        self._prune()
        awaited = self._awaited_legs()
        if len(self._unidentified) >= self.settings.max_unidentified + awaited:
            self._refuse(conn, "too many connections without a UUID")
            return
        if len(self._bound) + len(self._unidentified) >= self._max_connections:
            self._refuse(conn, "too many connections")
            return
        patient = len(self._patient) < awaited
        timeout = self._setup_timeout_s if patient else self.settings.uuid_timeout_s
        if patient:
            self._patient.add(conn)
        self._unidentified[conn] = asyncio.get_running_loop().call_later(timeout, self._uuid_timeout, conn, timeout)
        conn.attach(partial(self._first_frame, conn), partial(self._lost_before_uuid, conn))

    def _first_frame(self, conn: AudioSocketConnection, event: codec.Event) -> None:
        self._forget(conn)
        conn.detach()
        if not isinstance(event, codec.Uuid):
            self._refuse(conn, f"first frame is {type(event).__name__}, not the UUID")
            return
        reason = self._binder(conn)
        if reason is not None:
            self._refuse(conn, reason)
            return
        self._bound.add(conn)
        metrics.AUDIOSOCKET_CONNECTIONS.labels("bound").inc()
        log.info("audiosocket.bound", peer=conn.peer, uuid=str(conn.uuid))

    def _lost_before_uuid(self, conn: AudioSocketConnection, end: LegEnd) -> None:
        self._forget(conn)
        conn.detach()
        if end.kind is EndKind.MALFORMED:
            self._refuse(conn, f"malformed first frame: {end.detail}")
        else:
            self._refuse(conn, "closed before sending its UUID")

    def _uuid_timeout(self, conn: AudioSocketConnection, timeout: float) -> None:
        self._unidentified.pop(conn, None)
        self._patient.discard(conn)
        conn.detach()
        self._refuse(conn, f"no UUID frame within {timeout} s")

    def _forget(self, conn: AudioSocketConnection) -> None:
        timer = self._unidentified.pop(conn, None)
        if timer is not None:
            timer.cancel()
        self._patient.discard(conn)

    def _refuse(self, conn: AudioSocketConnection, reason: str) -> None:
        metrics.AUDIOSOCKET_CONNECTIONS.labels("refused").inc()
        log.warning("audiosocket.refused", peer=conn.peer, uuid=str(conn.uuid) if conn.uuid else None, reason=reason)
        conn.close()
