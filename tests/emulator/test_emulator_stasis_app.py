"""The Stasis app and its events WebSocket (FACTS 28, 29, 36-40, docs/architecture.md §3), and the
test controls (dropping the WebSocket, refusing it, HTTP server away and back, fault injection).
"""
from __future__ import annotations

import asyncio
import uuid as uuidlib

import httpx
import pytest
import websockets

from emu_testkit import EventsWs, Rig, tone, write_wav

pytestmark = pytest.mark.anyio


async def test_events_dropped_and_stasis_fails_while_no_websocket(tmp_path):
    write_wav(tmp_path / "prompt.wav", tone(1000, 0.3))
    async with Rig(sounds_dir=str(tmp_path)) as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        await rig.ws.close()
        await asyncio.sleep(0.05)
        assert not rig.emu.app_active()
        # REST keeps working, the caller hears the playback, its events are dropped (FACT 37)
        n = len(rig.emu.event_log)
        r = await rig.client.post(f"/bridges/{b1}/play",
                                  params={"media": "sound:prompt", "playbackId": "gap"})
        assert r.status_code == 201
        await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackFinished",
                                     since=n, delivered_only=False)
        dropped = rig.emu.event_log[n:]
        assert dropped and not any(r["delivered"] for r in dropped)
        assert call.heard_segments(threshold=100)
        # the app stays registered with its channels (FACT 36)
        apps = (await rig.client.get("/applications")).json()
        assert apps[0]["name"] == "ai-agent" and call.channel_id in apps[0]["channel_ids"]
        # a new call fails at once and goes on in the dialplan (FACT 39)
        second = await rig.emu.place_call(exten="5559999")
        assert second.stasis_status == "FAILED"
        await second.wait_ended(2)
        assert second.channel_id not in rig.emu.channels
        # reconnect: nothing is replayed, later events arrive (FACT 37, 38)
        ws2 = await EventsWs.open(rig.emu.port)
        await asyncio.sleep(0.1)
        assert ws2.events == []
        await call.hangup()
        ev = await ws2.wait(lambda e: e["type"] == "StasisEnd")
        assert ev["channel"]["id"] == call.channel_id
        assert not any(e["type"] == "StasisStart" for e in ws2.events)
        assert not any(e["type"] == "ChannelDestroyed" and e["channel"]["id"] == call.channel_id
                       for e in ws2.events)                                   # FACT 28
        await ws2.close()


async def test_second_websocket_replaces_the_first():
    async with Rig() as rig:
        ws2 = await EventsWs.open(rig.emu.port)
        replaced = await rig.ws.wait(lambda e: e["type"] == "ApplicationReplaced")
        assert list(replaced) == ["type", "timestamp", "application", "asterisk_id"]  # FACT 40
        call = await rig.emu.place_call()
        await ws2.wait(lambda e: e["type"] == "StasisStart")
        assert [e["type"] for e in rig.ws.events] == ["ApplicationReplaced"]
        assert not rig.ws.closed.is_set()
        await call.hangup()
        await ws2.close()


async def test_subscribe_all_reports_the_callers_channel_destroyed():
    async with Rig() as rig:
        await rig.ws.close()
        ws = await EventsWs.open(rig.emu.port, extra="&subscribeAll=true")
        call = await rig.answered_call()
        await call.hangup()
        ev = await ws.wait(lambda e: e["type"] == "ChannelDestroyed"
                           and e["channel"]["id"] == call.channel_id)
        assert ev["cause"] == 16                                               # FACT 29
        assert any(e["type"] == "ChannelCreated" for e in ws.events)
        await ws.close()


async def test_test_controls_drop_refuse_restart_inject():
    async with Rig() as rig:
        call = await rig.answered_call()
        await rig.emu.drop_events_ws()
        await asyncio.wait_for(rig.ws.closed.wait(), 2)
        assert not rig.emu.app_active()
        rig.emu.set_ws_refused(True)
        with pytest.raises(websockets.InvalidStatus) as err:
            await EventsWs.open(rig.emu.port)
        assert err.value.response.status_code == 503
        rig.emu.set_ws_refused(False)
        port = rig.emu.port
        await rig.emu.stop_http()
        with pytest.raises(httpx.ConnectError):
            await rig.client.get("/channels")
        await rig.emu.start_http()
        assert rig.emu.port == port
        r = await rig.client.get(f"/channels/{call.channel_id}")
        assert r.status_code == 200 and r.json()["state"] == "Up"
        rig.ws = await EventsWs.open(port)
        assert rig.emu.app_active()
        b1 = await rig.bridge()
        rig.emu.inject_rest_error("POST", r"/addChannel$", 500, {"message": "injected"})
        r = await rig.client.post(f"/bridges/{b1}/addChannel",
                                  params={"channel": call.channel_id})
        assert r.status_code == 500 and r.json() == {"message": "injected"}
        await rig.add(b1, call.channel_id)
        assert rig.emu.rest_log[-2]["status"] == 500 and rig.emu.rest_log[-1]["status"] == 204


async def test_add_channel_before_stasis_start_is_422():
    async with Rig(stasis_delay=0.05) as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        uid = str(uuidlib.uuid4())
        r = await rig.client.post("/channels", json={
            "endpoint": f"Local/{uid}@ai-agent-media-fork/n", "app": "ai-agent",
            "appArgs": "media-fork", "formats": "slin"})
        fid = r.json()["id"]
        r = await rig.client.post(f"/bridges/{b1}/addChannel", params={"channel": fid})
        assert r.status_code == 422                                            # FACT 49
        assert r.json() == {"message": "Channel not in Stasis application"}
        await rig.started(fid)
        await rig.add(b1, fid)


async def test_client_chosen_ids_are_honoured():
    async with Rig() as rig:
        call = await rig.answered_call()
        b = (await rig.post("/bridges", type="mixing", bridgeId="my-bridge")).json()
        assert b["id"] == "my-bridge"
        r = await rig.client.post("/bridges", params={"type": "mixing", "bridgeId": "my-bridge"})
        assert r.status_code == 409
        s = (await rig.post(f"/channels/{call.channel_id}/snoop", spy="in", app="ai-agent",
                            snoopId="my-snoop")).json()
        assert s["id"] == "my-snoop" and s["name"].startswith(f"Snoop/{call.channel_id}-")
        uid = str(uuidlib.uuid4())
        r = await rig.client.post("/channels/fork-1", json={
            "endpoint": f"Local/{uid}@ai-agent-media-fork/n", "app": "ai-agent",
            "otherChannelId": "fork-2", "formats": "slin"})
        assert r.status_code == 200 and r.json()["id"] == "fork-1"
        await rig.started("fork-1")
        assert "fork-2" in rig.emu.channels
        r = await rig.client.post("/channels", json={"endpoint": f"Local/{uid}@x/n",
                                                     "app": "ai-agent", "channelId": "fork-1"})
        assert r.status_code == 409
        eid = (await rig.post("/channels/externalMedia", channelId="em-1", app="ai-agent",
                              external_host=f"127.0.0.1:{rig.engine.port}", format="slin",
                              encapsulation="audiosocket", transport="tcp",
                              data=str(uuidlib.uuid4()))).json()["id"]
        assert eid == "em-1"


async def test_continue_in_dialplan_keeps_the_snoop_until_the_caller_is_gone():
    """A snoop stays while the channel it spies on lives, also after that channel left Stasis;
    it leaves by itself when the channel goes (snoop F25, F26)."""
    contexts = {"ai-agent-unavailable": [("Answer", ""), ("Wait", "0.3"), ("Hangup", "")]}
    async with Rig(extra_contexts=contexts) as rig:
        call = await rig.answered_call()
        b2 = await rig.bridge("ai-agent-capture")
        sid = await rig.snoop(call.channel_id, b2)
        await rig.post(f"/channels/{call.channel_id}/continue", context="ai-agent-unavailable",
                       extension="s", priority="1")
        await rig.ws.wait(lambda e: e["type"] == "StasisEnd"
                          and e["channel"]["id"] == call.channel_id)
        assert rig.emu.channels[sid].in_stasis            # the caller still lives: so does it
        await call.wait_ended(2)
        await rig.ws.wait(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == sid)
        assert sid not in rig.emu.channels
        assert (await rig.client.delete(f"/channels/{sid}")).status_code == 404
        assert not any(e["type"] in ("ChannelHangupRequest", "ChannelDestroyed")
                       and e["channel"]["id"] in (sid, call.channel_id) for e in rig.ws.events)
