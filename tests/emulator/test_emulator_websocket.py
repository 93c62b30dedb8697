"""chan_websocket faithfulness (server mode): the emulator's /media/<id> against the recordings of a
real Asterisk 22.10.1 (tests/asterisk_facts/more/ari-ws-slin16.jsonl, wsmedia-ws-slin16.jsonl; M15-M32)."""
from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import websockets

from emu_testkit import FACTS, Rig, pcm, tone, tone_amplitude

pytestmark = pytest.mark.anyio
MORE = FACTS / "more"


def recorded(name):
    return [json.loads(line) for line in (MORE / name).read_text().splitlines() if line.strip()]


def recorded_ws_events(after_path=None):
    out = []
    for l in recorded("ari-ws-slin16.jsonl"):
        if l["dir"] == "event" and (l["event"].get("channel") or l["event"].get("peer") or {}).get("name", "").startswith("WebSocket/"):
            out.append(l["event"])
    return out


class Media:
    def __init__(self, ws):
        self.ws = ws
        self.texts: list[tuple[float, str]] = []
        self.binary: list[tuple[float, bytes]] = []
        self.task = asyncio.ensure_future(self._read())

    async def _read(self):
        loop = asyncio.get_running_loop()
        try:
            async for msg in self.ws:
                (self.texts if isinstance(msg, str) else self.binary).append((loop.time(), msg))
        except websockets.ConnectionClosed:
            pass

    async def text(self, prefix, timeout=3.0):
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            for t, m in self.texts:
                if m.startswith(prefix):
                    return t, m
            await asyncio.sleep(0.005)
        raise AssertionError(f"no {prefix} from Asterisk; got {[m for _, m in self.texts]}")


async def ws_leg(rig, connect=True):
    call = await rig.answered_call()
    b1 = await rig.bridge()
    await rig.add(b1, call.channel_id)
    r = await rig.post("/channels/externalMedia", app="ai-agent", transport="websocket", encapsulation="none",
                       connection_type="server", format="slin16")
    snap = r.json()
    if not connect:
        return call, b1, snap, None
    ws = await websockets.connect(f"ws://127.0.0.1:{rig.emu.port}/media/{snap['channelvars']['MEDIA_WEBSOCKET_CONNECTION_ID']}")
    media = Media(ws)
    await rig.started(snap["id"])
    await rig.add(b1, snap["id"])
    return call, b1, snap, media


async def test_answer_connection_and_media_start_as_recorded():
    rec = next(l for l in recorded("ari-ws-slin16.jsonl") if l["dir"] == "rest" and l["path"].endswith("/externalMedia"))
    rec_start = next(l["text"] for l in recorded("wsmedia-ws-slin16.jsonl") if l.get("type") == "text")
    want = [e["type"] for e in recorded_ws_events()]
    async with Rig() as rig:
        _, _, snap, media = await ws_leg(rig, connect=False)
        assert list(snap) == list(rec["response"]) and snap["state"] == "Down"                    # M15
        assert snap["name"].startswith("WebSocket/INCOMING/0x") and snap["channelvars"]["MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE"] == "640"
        await asyncio.sleep(0.1)
        before = [x["event"]["type"] for x in rig.emu.event_log if (x["event"].get("channel") or x["event"].get("peer") or {}).get("id") == snap["id"]]
        assert before == want[:1] == ["Dial"]                                                     # no StasisStart yet
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"ws://127.0.0.1:{rig.emu.port}/media/not-an-id")
        assert refused.value.response.status_code == 404
        ws = await websockets.connect(f"ws://127.0.0.1:{rig.emu.port}/media/{snap['channelvars']['MEDIA_WEBSOCKET_CONNECTION_ID']}")
        media = Media(ws)
        await rig.started(snap["id"])
        after = [x["event"]["type"] for x in rig.emu.event_log if (x["event"].get("channel") or x["event"].get("peer") or {}).get("id") == snap["id"]]
        assert after[:5] == want[:5] == ["Dial", "ChannelStateChange", "Dial", "ChannelVarset", "StasisStart"]  # M17
        _, start = await media.text("MEDIA_START")
        assert start.split(" ")[0] == rec_start.split(" ")[0]
        assert [f.split(":")[0] for f in start.split(" ")[1:]] == [f.split(":")[0] for f in rec_start.split(" ")[1:]]
        assert f"channel_id:{snap['id']}" in start and "format:slin16 optimal_frame_size:640 ptime:20" in start
        await ws.close()


async def test_frames_are_640_byte_little_endian_slin16_and_dtmf_is_a_text_message():
    async with Rig() as rig:
        call, _, snap, media = await ws_leg(rig)
        await call.say(tone(600, 1.0).tobytes())
        await call.send_dtmf("1")
        await media.text("DTMF_END digit:1")                                                       # M20
        frames = [b for _, b in media.binary]
        assert {len(b) for b in frames} == {640}                                                   # M19
        level = tone_amplitude(np.frombuffer(b"".join(frames[10:40]), "<i2").astype(np.int16), 600, rate=16000)
        assert 7500 < level < 8100
        _, dtmf = await media.text("DTMF_END")
        assert dtmf == f"DTMF_END digit:1 channel_id:{snap['id']}"
        await media.ws.close()


async def test_commands_and_their_replies_as_recorded():
    rec = {l["text"].split(" ")[0]: l["text"] for l in recorded("wsmedia-ws-slin16.jsonl") if l.get("type") == "text" and l["dir"] == "in"}
    async with Rig() as rig:
        call, _, snap, media = await ws_leg(rig)
        await media.ws.send("GET_STATUS")
        _, status = await media.text("STATUS")
        assert status.replace(snap["id"], "ID") == rec["STATUS"].replace(rec["STATUS"].split(" ")[1].split(":")[1], "ID")  # M22
        await media.ws.send(tone(440, 0.5, rate=16000).astype("<i2").tobytes())                   # one 0.5 s message (M21)
        await media.ws.send("MARK_MEDIA m1")
        t_mark, _ = await media.text("MEDIA_MARK_PROCESSED m1")                                    # M24: when played out
        await media.ws.send(tone(440, 19.0, rate=16000).astype("<i2").tobytes()[:60800 * 10])      # 950 frames (M27)
        await media.text("MEDIA_XOFF")
        await media.ws.send("FLUSH_MEDIA")
        await media.text("MEDIA_XON")
        await media.ws.send("SET_MEDIA_DIRECTION in")
        await media.ws.send("NO_SUCH_COMMAND")
        await media.ws.send("REPORT_QUEUE_DRAINED")
        _, err = await media.text("ERROR")
        assert err.replace(snap["id"], "ID") == rec["ERROR"].replace(rec["ERROR"].split(" ")[1].split(":")[1], "ID")  # M29
        await media.text("QUEUE_DRAINED")
        names = [m.split(" ")[0] for _, m in media.texts]
        assert names == ["MEDIA_START", "STATUS", "MEDIA_MARK_PROCESSED", "MEDIA_XOFF", "MEDIA_XON", "ERROR", "QUEUE_DRAINED"]
        await asyncio.sleep(0.4)
        heard = pcm(call.heard_pcm())
        assert tone_amplitude(heard[-int(8000 * 0.25):], 440) < 300, "nothing plays after the flush (M26)"
        await media.ws.close()


async def test_hangup_command_and_delete_end_the_channel_as_recorded():
    rec = [e["type"] for e in recorded_ws_events()]
    want_delete = rec[rec.index("ChannelHangupRequest"):]
    async with Rig() as rig:
        _, _, snap, media = await ws_leg(rig)
        since = len(rig.emu.event_log)
        assert (await rig.client.delete(f"/channels/{snap['id']}")).status_code == 204
        await rig.ws.wait(lambda e: e["type"] == "ChannelDestroyed" and e["channel"]["id"] == snap["id"])
        got = [x["event"] for x in rig.emu.event_log[since:] if (x["event"].get("channel") or {}).get("id") == snap["id"]]
        assert [e["type"] for e in got] == want_delete and got[0]["cause"] == 32                  # M31
        await asyncio.wait_for(media.task, 2)
        assert media.ws.close_code == 1000
        _, _, snap2, media2 = await ws_leg(rig)
        await media2.ws.send("HANGUP")
        ev = await rig.ws.wait(lambda e: e["type"] == "ChannelHangupRequest" and e["channel"]["id"] == snap2["id"])
        assert ev["cause"] == 16
        await asyncio.wait_for(media2.task, 2)
        assert media2.ws.close_code == 1000
