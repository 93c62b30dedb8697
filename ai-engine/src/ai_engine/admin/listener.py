"""A short-lived AudioSocket listener for the doctor: accepts connections, reads each one's
UUID frame with the engine's codec, remembers it, and ends the leg (hangup frame, close).

Used when the engine's AudioSocket port is free (engine not running); when the engine holds it,
the doctor watches the engine's own counters instead (see checks_media)."""

from __future__ import annotations

import socket
import uuid as uuidlib

import anyio
import anyio.abc

from ..transports.audiosocket import codec

UUID_TIMEOUT_S = 2.0


def port_free(host: str, port: int) -> bool:
    """Can we bind host:port right now? (False: the engine or someone else holds it.)"""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class UuidListener:
    def __init__(self) -> None:
        self.seen: dict[uuidlib.UUID, anyio.Event] = {}
        self.peers: dict[uuidlib.UUID, str] = {}

    def expect(self, value: uuidlib.UUID) -> anyio.Event:
        return self.seen.setdefault(value, anyio.Event())

    async def serve(self, listener: anyio.abc.Listener, *, task_status=anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await listener.serve(self._handle)

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            decoder = codec.Decoder(max_payload=8192)
            with anyio.move_on_after(UUID_TIMEOUT_S):
                while True:
                    try:
                        data = await stream.receive()
                        events = decoder.feed(data, keep_audio=False)
                    except (anyio.EndOfStream, anyio.BrokenResourceError, codec.ProtocolError):
                        return
                    for event in events:
                        if isinstance(event, codec.Uuid):
                            peer = stream.extra(anyio.abc.SocketAttribute.remote_address, ("?", 0))
                            self.peers[event.uuid] = str(peer[0])
                            self.expect(event.uuid).set()
                            try:
                                await stream.send(codec.encode_hangup())
                            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                                pass
                            return


async def open_listener(host: str, port: int) -> anyio.abc.Listener:
    return await anyio.create_tcp_listener(local_host=host, local_port=port, reuse_port=False)
