"""A free loopback port for a server that must be named before it runs (a process's settings, the
emulator's dialplan address), for the benches and the tests.

The kernel hands out bind(0) ports from the same range as the source ports of outgoing connections
(net.ipv4.ip_local_port_range), so on a busy machine a connection can take such a port between our
check and the server's own bind ("address already in use"). These ports are drawn at random below
that range instead, and checked free for both TCP and UDP (RTP) on 127.0.0.1."""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 10000
TRIES = 100
_given: set[int] = set()  # handed out by this process (not bound yet: never twice)
_random = random.Random()  # its own: a seeded global generator would give every run the same ports


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port() -> int:
    top = _ephemeral_start()
    if top - LOWEST >= 1000:
        for _ in range(TRIES):
            port = _random.randrange(LOWEST, top)
            if port not in _given and _bindable(port):
                _given.add(port)
                return port
    with socket.socket() as s:  # no room below the range: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
