"""The engine's RTP port range: each externalMedia RTP leg gets its own even UDP port in
`rtp.port_start..rtp.port_end` (RTP convention; UnicastRTP uses no RTCP, more/ M10), bound on
`rtp.host`. A port in use by another process is skipped; a released port goes back to the pool.
"""

from __future__ import annotations

import asyncio

from ...config import RtpSettings
from ...observability.logs import get_logger
from .leg import RtpLeg

log = get_logger(__name__)


class NoPortFree(OSError):
    pass


class RtpPorts:
    def __init__(self, settings: RtpSettings):
        self.settings = settings
        first = settings.port_start + (settings.port_start & 1)
        self._ports = list(range(first, settings.port_end + 1, 2))
        self._next = 0
        self.in_use: set[int] = set()

    @property
    def capacity(self) -> int:
        return len(self._ports)

    async def open_leg(self, fmt: str) -> RtpLeg:
        """A bound leg on the next free port; raises `NoPortFree` when the range is exhausted."""
        loop = asyncio.get_running_loop()
        s = self.settings
        for _ in range(len(self._ports)):
            port = self._ports[self._next]
            self._next = (self._next + 1) % len(self._ports)
            if port in self.in_use:
                continue
            self.in_use.add(port)
            try:
                _, leg = await loop.create_datagram_endpoint(
                    lambda: RtpLeg(
                        fmt, reorder=s.reorder_packets, max_packet=s.max_packet_bytes,
                        wideband_return=s.wideband_return, on_released=self._release,
                    ),
                    local_addr=(s.host, port),
                )
            except OSError as exc:
                self.in_use.discard(port)
                log.debug("rtp.port_busy", port=port, error=repr(exc))
                continue
            return leg
        raise NoPortFree(f"no free UDP port in {s.port_start}-{s.port_end} ({len(self.in_use)} in use)")

    def _release(self, port: int) -> None:
        self.in_use.discard(port)
