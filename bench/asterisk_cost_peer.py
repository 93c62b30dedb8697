"""Pieces of bench/asterisk_cost.py that are not the engine: the reference AudioSocket peer (a
trivial echo server: one process, 2 channels per call, no ARI), Asterisk's CPU from /proc, and
what the caller heard (its MixMonitor r() file)."""

from __future__ import annotations

import asyncio
import os
import wave
from pathlib import Path

import numpy as np

CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_ticks(pid: int) -> int:
    """utime + stime of every thread of `pid`, in clock ticks (/proc/<pid>/stat fields 14, 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


class EchoPeer:
    """An AudioSocket server that sends every audio frame straight back (kinds 0x10-0x18), so
    the caller hears itself: the cheapest possible "agent" on the Asterisk side (the dialplan runs
    AudioSocket(<uuid>,host:port) on the caller's own channel)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.connections = 0
        self.frames = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> EchoPeer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for w in list(self._writers):
            w.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readexactly(3)
                payload = await reader.readexactly(int.from_bytes(head[1:3], "big"))
                if head[0] == 0x00:
                    break
                if 0x10 <= head[0] <= 0x18 and payload:
                    self.frames += 1
                    writer.write(head + payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # Asterisk closes the socket at hang-up (FACT 32)
        finally:
            self._writers.discard(writer)
            writer.close()


def heard_level(path: Path, skip_s: float = 2.0) -> dict:
    """RMS and the share of 100 ms windows above -40 dBFS in what the caller heard, after `skip_s`
    (the call's set-up)."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    pcm = pcm[int(skip_s * rate) :]
    win = rate // 10
    n = len(pcm) // win
    if n == 0:
        return {"seconds": 0.0, "rms": 0.0, "voiced_share": 0.0}
    rms_w = np.sqrt(np.mean(pcm[: n * win].reshape(n, win) ** 2, axis=1))
    return {
        "seconds": round(len(pcm) / rate, 2),
        "rms": round(float(np.sqrt(np.mean(pcm**2))), 1),
        "voiced_share": round(float(np.mean(rms_w > 32768 * 0.01)), 2),
    }
