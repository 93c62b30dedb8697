"""Test kit for the emulator's faithfulness tests: recordings, a fake engine AudioSocket server,
an ARI client (httpx + websockets) and tone analysis."""
from __future__ import annotations

import asyncio
import json
import uuid as uuidlib
import wave
from pathlib import Path

import httpx
import numpy as np
import websockets

FACTS = Path(__file__).resolve().parent.parent / "asterisk_facts"
USER, PASSWORD, APP = "ai-agent", "secret", "ai-agent"


def load_jsonl(name: str) -> list[dict]:
    with open(FACTS / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ---- audio -------------------------------------------------------------------------------------

def tone(freq: float, secs: float, amp: int = 8000, rate: int = 8000) -> np.ndarray:
    n = int(round(secs * rate))
    t = np.arange(n) / rate
    return np.round(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def tone_amplitude(samples: np.ndarray, freq: float, rate: int = 8000) -> float:
    """Amplitude of ``freq`` in ``samples`` (Hann-windowed single-bin DFT, like the recordings'
    metrics: a pure 8000-amplitude tone reads ~8000)."""
    x = samples.astype(np.float64)
    if len(x) == 0:
        return 0.0
    w = np.hanning(len(x))
    k = np.exp(-2j * np.pi * freq * np.arange(len(x)) / rate)
    return float(2 * abs(np.sum(x * w * k)) / np.sum(w))


def pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


# ---- fake engine AudioSocket server -------------------------------------------------------------

class FakeConn:
    def __init__(self, server: "FakeEngine", reader, writer):
        self.server = server
        self.reader, self.writer = reader, writer
        self.loop = asyncio.get_running_loop()
        self.t_connect = self.loop.time()
        self.frames: list[tuple[float, int, bytes]] = []   # (t, kind, payload) received
        self.uuid: str | None = None
        self.closed = asyncio.Event()
        self.closed_by: str | None = None
        self._streams: set[asyncio.Task] = set()

    async def read_loop(self) -> None:
        try:
            while True:
                hdr = await self.reader.readexactly(3)
                n = int.from_bytes(hdr[1:3], "big")
                payload = await self.reader.readexactly(n) if n else b""
                self.frames.append((self.loop.time(), hdr[0], payload))
                if hdr[0] == 0x01 and self.uuid is None:
                    self.uuid = str(uuidlib.UUID(bytes=payload))
                    self.server._conn_ready(self)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed_by = self.closed_by or "asterisk"
        finally:
            self.closed.set()

    def send(self, kind: int, payload: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(bytes([kind]) + len(payload).to_bytes(2, "big") + payload)

    def close(self) -> None:
        self.closed_by = self.closed_by or "engine"
        for t in self._streams:
            t.cancel()
        self.writer.close()

    def stream(self, samples: np.ndarray, kind: int = 0x10, frame_bytes: int = 320) -> asyncio.Task:
        """Send ``samples`` as ``kind`` frames paced at 20 ms from absolute deadlines."""
        data = samples.astype("<i2").tobytes()

        async def run():
            t0 = self.loop.time()
            for i, off in enumerate(range(0, len(data), frame_bytes)):
                await asyncio.sleep(max(0.0, t0 + i * 0.02 - self.loop.time()))
                self.send(kind, data[off:off + frame_bytes])

        task = asyncio.ensure_future(run())
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)
        return task

    def audio(self, kind: int = 0x10) -> np.ndarray:
        return pcm(b"".join(p for _, k, p in self.frames if k == kind))

    def audio_frames(self, kind: int = 0x10) -> list[tuple[float, bytes]]:
        return [(t, p) for t, k, p in self.frames if k == kind]


class FakeEngine:
    """An AudioSocket server like the engine's: records every frame per connection."""

    def __init__(self):
        self.conns: list[FakeConn] = []
        self._server = None
        self._tasks: set[asyncio.Task] = set()
        self._waiters: list[tuple[str | None, asyncio.Future]] = []
        self.port = 0

    async def __aenter__(self) -> "FakeEngine":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for c in self.conns:
            c.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    async def _accept(self, reader, writer) -> None:
        conn = FakeConn(self, reader, writer)
        self.conns.append(conn)
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await conn.read_loop()
        finally:
            self._tasks.discard(task)

    def _conn_ready(self, conn: FakeConn) -> None:
        for want, fut in self._waiters:
            if not fut.done() and (want is None or want == conn.uuid):
                fut.set_result(conn)

    async def wait_conn(self, uuid: str | None = None, timeout: float = 3.0) -> FakeConn:
        for c in self.conns:
            if c.uuid is not None and (uuid is None or c.uuid == uuid):
                return c
        fut = asyncio.get_running_loop().create_future()
        item = (uuid, fut)
        self._waiters.append(item)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiters.remove(item)


# ---- ARI client ---------------------------------------------------------------------------------

class EventsWs:
    """An events WebSocket client that keeps every event."""

    def __init__(self, ws):
        self.ws = ws
        self.events: list[dict] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, port: int, app: str = APP, key: str = f"{USER}:{PASSWORD}",
                   extra: str = "") -> "EventsWs":
        url = f"ws://127.0.0.1:{port}/ari/events?app={app}&api_key={key}{extra}"
        return cls(await websockets.connect(url))

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                self.events.append(json.loads(msg))
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()

    async def wait(self, pred, timeout: float = 3.0) -> dict:
        async def scan():
            seen = 0
            while True:
                for ev in self.events[seen:]:
                    if pred(ev):
                        return ev
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    async def wait_count(self, n: int, timeout: float = 5.0) -> None:
        async def scan():
            while len(self.events) < n:
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(scan(), timeout)

    async def close(self) -> None:
        await self.ws.close()
        await self._task


def ari_client(emu) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=emu.ari_url.rstrip("/") + "/ari", auth=(USER, PASSWORD),
                             timeout=5.0)


# ---- a call set up the way the engine does it (docs/architecture.md §2) ----------------------------

class Rig:
    """Emulator + fake engine + ARI client + events WebSocket, with helpers that set up the
    arrangements of the recordings through the real REST API."""

    def __init__(self, sounds_dir=None, **emu_kw):
        self.sounds_dir = sounds_dir
        self.emu_kw = emu_kw

    async def __aenter__(self) -> "Rig":
        from asterisk_emulator import AsteriskEmulator
        self.engine = await FakeEngine().__aenter__()
        self.emu = await AsteriskEmulator(audiosocket_address=self.engine.address,
                                          sounds_dir=self.sounds_dir, **self.emu_kw).__aenter__()
        self.client = ari_client(self.emu)
        self.ws = await EventsWs.open(self.emu.port)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()
        await self.client.aclose()
        await self.emu.aclose()
        await self.engine.__aexit__(*exc)

    async def post(self, path: str, **params) -> httpx.Response:
        r = await self.client.post(path, params=params)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r

    async def started(self, cid: str) -> dict:
        return await self.ws.wait(lambda e: e["type"] == "StasisStart"
                                  and e["channel"]["id"] == cid)

    async def answered_call(self, **kw):
        call = await self.emu.place_call(**kw)
        await self.post(f"/channels/{call.channel_id}/answer")
        return call

    async def bridge(self, name: str = "ai-agent-call") -> str:
        return (await self.post("/bridges", type="mixing", name=name)).json()["id"]

    async def add(self, bridge: str, cid: str) -> None:
        await self.post(f"/bridges/{bridge}/addChannel", channel=cid)

    async def fork(self, bridge: str, formats: str | None = "slin", args: str = "media-fork"):
        uid = str(uuidlib.uuid4())
        body = {"endpoint": f"Local/{uid}@ai-agent-media-fork/n", "app": APP, "appArgs": args}
        if formats:
            body["formats"] = formats
        r = await self.client.post("/channels", json=body)
        assert r.status_code == 200, r.text
        fid = r.json()["id"]
        await self.started(fid)
        await self.add(bridge, fid)
        return fid, await self.engine.wait_conn(uid)

    async def extmedia(self, bridge: str, fmt: str = "slin"):
        uid = str(uuidlib.uuid4())
        r = await self.post("/channels/externalMedia", app=APP, format=fmt,
                            external_host=f"127.0.0.1:{self.engine.port}",
                            encapsulation="audiosocket", transport="tcp", data=uid)
        eid = r.json()["id"]
        await self.started(eid)
        await self.add(bridge, eid)
        return eid, await self.engine.wait_conn(uid)

    async def snoop(self, cid: str, bridge: str) -> str:
        sid = (await self.post(f"/channels/{cid}/snoop", spy="in", app=APP,
                               appArgs="snoop")).json()["id"]
        await self.started(sid)
        await self.add(bridge, sid)
        return sid

    async def media_path(self, cid: str):
        """docs/architecture.md §2: the caller in a call bridge, a snoop (spy=in) in a capture bridge with a
        media fork. Returns (call bridge, capture fork connection)."""
        b1 = await self.bridge()
        await self.add(b1, cid)
        b2 = await self.bridge("ai-agent-capture")
        await self.snoop(cid, b2)
        _, cap = await self.fork(b2, args="media-fork,capture")
        return b1, cap
