"""The emulator's transfers against the recordings (tests/asterisk_facts/more/, transfer-continue,
transfer-redirect, transfer-attended: M33-M40): what `continue`, `redirect` and an originated
target do to the caller, the snoop and the events."""
from __future__ import annotations

import pytest

from emu_testkit import APP, Rig, load_jsonl

pytestmark = pytest.mark.anyio

OPERATOR = {"facts-operator": [("Answer", ""), ("Wait", "30"), ("Hangup", "")]}


def recorded_events(name: str, after_t: float, until_t: float) -> list[tuple[str, str]]:
    """(event type, channel kind) the recording shows in a time window."""
    out = []
    for r in load_jsonl(f"more/{name}"):
        if r["dir"] == "event" and after_t <= r["t"] < until_t:
            e = r["event"]
            kind = (e.get("channel") or {}).get("name", "").split("/")[0]
            out.append((e["type"], kind))
    return out


def caller_events(events: list[dict], cid: str) -> list[tuple[str, str]]:
    return [(e["type"], "Local") for e in events if (e.get("channel") or {}).get("id") == cid]


async def transfer_rig(rig):
    call = await rig.answered_call()
    b1 = await rig.bridge()
    await rig.add(b1, call.channel_id)
    rig.agent_leg, _ = await rig.extmedia(b1)  # the recordings' agent leg in the caller's bridge
    b2 = await rig.bridge("ai-agent-capture")
    sid = await rig.snoop(call.channel_id, b2)
    return call, b1, sid


async def test_continue_moves_the_caller_at_once_and_leaves_the_snoop_up(tmp_path):
    async with Rig(extra_contexts=OPERATOR) as rig:
        call, b1, sid = await transfer_rig(rig)
        seen = len(rig.ws.events)
        r = await rig.client.post(f"/channels/{call.channel_id}/continue",
                                  params={"context": "facts-operator", "extension": "100", "priority": 1})
        assert r.status_code == 204
        await rig.ws.wait(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == call.channel_id)
        # M33: BRIDGEPEER cleared, ChannelLeftBridge, StasisEnd - and nothing more for the caller.
        assert caller_events(rig.ws.events[seen:], call.channel_id) == recorded_events("ari-transfer-continue.jsonl", 2.90, 3.0)
        assert rig.emu.channels[call.channel_id].context == "facts-operator"
        # M34: the snoop stays up, in its bridge.
        assert (await rig.client.get(f"/channels/{sid}")).status_code == 200
        assert [m.id for m in rig.emu.bridges[b1].members] == [rig.agent_leg]  # M34: the agent leg alone
        # M35: when the caller hangs up the snoop leaves (no hang-up events), then both are 404.
        seen = len(rig.ws.events)
        await call.hangup()
        await rig.ws.wait(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == sid)
        snoop = [e["type"] for e in rig.ws.events[seen:] if (e.get("channel") or {}).get("id") == sid]
        assert snoop == [t for t, kind in recorded_events("ari-transfer-continue.jsonl", 12.0, 13.0) if kind == "Snoop"]
        assert not [e for e in rig.ws.events[seen:] if (e.get("channel") or {}).get("id") == call.channel_id]
        for cid in (call.channel_id, sid):
            r = await rig.client.get(f"/channels/{cid}")
            assert (r.status_code, r.json()) == (404, {"message": "Channel not found"})


async def test_redirect_of_a_local_caller_is_accepted_and_does_nothing(tmp_path):
    async with Rig(extra_contexts=OPERATOR) as rig:
        call, b1, _ = await transfer_rig(rig)
        seen = len(rig.ws.events)
        r = await rig.client.post(f"/channels/{call.channel_id}/redirect", params={"endpoint": "Local/100@facts-operator"})
        assert r.status_code == 204  # M36
        r = await rig.client.post(f"/channels/{call.channel_id}/redirect", params={"endpoint": "PJSIP/100"})
        recorded = next(x for x in load_jsonl("more/ari-transfer-redirect.jsonl") if x.get("query") == {"endpoint": "PJSIP/100"})
        assert (r.status_code, r.json()) == (recorded["status"], recorded["response"])
        assert not [e for e in rig.ws.events[seen:] if (e.get("channel") or {}).get("id") == call.channel_id]
        assert rig.emu.channels[call.channel_id].in_stasis
        assert [m.id for m in rig.emu.bridges[b1].members] == [call.channel_id, rig.agent_leg]


async def test_an_originated_target_enters_stasis_when_it_answers_and_joins_the_callers_bridge(tmp_path):
    async with Rig(extra_contexts=OPERATOR) as rig:
        call, b1, sid = await transfer_rig(rig)
        r = await rig.client.post("/channels", json={"endpoint": "Local/100@facts-operator", "app": APP, "appArgs": "operator",
                                                     "channelId": "op-1", "otherChannelId": "op-2"})
        assert r.status_code == 200 and r.json()["state"] == "Down"  # M37
        start = await rig.started("op-1")
        assert start["args"] == ["operator"] and start["channel"]["state"] == "Up"
        await rig.add(b1, "op-1")
        assert (await rig.client.delete(f"/channels/{rig.agent_leg}")).status_code == 204  # our leg goes (M38, M39)
        assert sorted(m.id for m in rig.emu.bridges[b1].members) == sorted([call.channel_id, "op-1"])
        # M40: the caller hangs up, the target stays in the bridge until it is deleted.
        await call.hangup()
        assert [m.id for m in rig.emu.bridges[b1].members] == ["op-1"]
        assert (await rig.client.delete("/channels/op-1")).status_code == 204
        await rig.ws.wait(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == "op-1")


async def test_an_originated_target_that_never_answers_gets_no_stasis_start(tmp_path):
    async with Rig(extra_contexts={"facts-operator": [("Wait", "30"), ("Hangup", "")]}) as rig:
        await transfer_rig(rig)
        r = await rig.client.post("/channels", json={"endpoint": "Local/100@facts-operator", "app": APP, "channelId": "op-1"})
        assert r.status_code == 200
        with pytest.raises(TimeoutError):
            await rig.ws.wait(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == "op-1", timeout=0.5)
        assert (await rig.client.delete("/channels/op-1")).status_code == 204


async def test_caller_dtmf_with_a_snoop_is_one_event_per_digit_on_the_caller_only(tmp_path):
    """dtmf-snoop (M41): `SendDTMF(1#)` gave one ChannelDtmfReceived per digit, for the caller only."""
    recorded = [r["event"] for r in load_jsonl("more/ari-dtmf-snoop.jsonl") if r["dir"] == "event"
                and r["event"]["type"] == "ChannelDtmfReceived"]
    async with Rig() as rig:
        call, _, sid = await transfer_rig(rig)
        await call.send_dtmf("1#")
        await rig.ws.wait(lambda e: e["type"] == "ChannelDtmfReceived" and e["digit"] == "#")
        got = [e for e in rig.ws.events if e["type"] == "ChannelDtmfReceived"]
        assert [(e["digit"], e["duration_ms"]) for e in got] == [(e["digit"], e["duration_ms"]) for e in recorded]
        assert {e["channel"]["id"] for e in got} == {call.channel_id}
