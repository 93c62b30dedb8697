"""Leaving the emulator with everything still running leaves nothing behind: no task, no open
socket; AudioSocket connections end with a plain close (FACT 32)."""
from __future__ import annotations

import asyncio
import uuid as uuidlib

import pytest

from asterisk_emulator import AsteriskEmulator
from emu_testkit import APP, EventsWs, FakeEngine, ari_client, tone, write_wav

pytestmark = pytest.mark.anyio


def _emulator_tasks() -> list[asyncio.Task]:
    out = []
    for t in asyncio.all_tasks():
        code = getattr(t.get_coro(), "cr_code", None)
        if code is not None and "asterisk_emulator" in code.co_filename:
            out.append(t)
    return out


async def test_exit_mid_call_leaves_nothing_behind(tmp_path):
    write_wav(tmp_path / "p.wav", tone(1000, 3.0))
    async with FakeEngine() as engine:
        emu = AsteriskEmulator(audiosocket_address=engine.address, sounds_dir=str(tmp_path))
        await emu.start()
        port = emu.port
        ws = await EventsWs.open(port)
        async with ari_client(emu) as c:
            call = await emu.place_call()
            await c.post(f"/channels/{call.channel_id}/answer")
            b1 = (await c.post("/bridges", params={"type": "mixing"})).json()["id"]
            b2 = (await c.post("/bridges", params={"type": "mixing"})).json()["id"]
            await c.post(f"/bridges/{b1}/addChannel", params={"channel": call.channel_id})
            sid = (await c.post(f"/channels/{call.channel_id}/snoop",
                                params={"spy": "in", "app": APP})).json()["id"]
            await ws.wait(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == sid)
            await c.post(f"/bridges/{b2}/addChannel", params={"channel": sid})
            uid = str(uuidlib.uuid4())
            fid = (await c.post("/channels", json={
                "endpoint": f"Local/{uid}@ai-agent-media-fork/n", "app": APP,
                "formats": "slin"})).json()["id"]
            await ws.wait(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == fid)
            await c.post(f"/bridges/{b2}/addChannel", params={"channel": fid})
            em = (await c.post("/channels/externalMedia", params={
                "app": APP, "external_host": f"127.0.0.1:{engine.port}", "format": "slin",
                "encapsulation": "audiosocket", "transport": "tcp",
                "data": str(uuidlib.uuid4())})).json()["id"]
            await ws.wait(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == em)
            await c.post(f"/bridges/{b1}/addChannel", params={"channel": em})
            await c.post(f"/bridges/{b1}/play", params={"media": "sound:p"})
            await c.post(f"/channels/{call.channel_id}/play", params={"media": "bogus:x"})
            asyncio.ensure_future(call.say(tone(600, 2.0).tobytes()))
            await engine.wait_conn(uid)
            await asyncio.sleep(0.2)
        await emu.aclose()
        assert _emulator_tasks() == [], [t.get_coro() for t in _emulator_tasks()]
        await asyncio.wait_for(ws.closed.wait(), 2)
        assert len(engine.conns) == 2
        for conn in engine.conns:
            await asyncio.wait_for(conn.closed.wait(), 2)
            assert conn.closed_by == "asterisk"
            assert 0x00 not in [k for _, k, _ in conn.frames]
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        assert emu.errors == []
