"""Replay the REST traffic of real Asterisk 22.10.1 recordings against the emulator and compare
what comes back: statuses, response shapes, and the events (types, order, key order and key
fields), with recorded ids mapped to the emulator's.

The caller's own actions (its DTMF, its hang-up) are taken from the recorded events and played by
the emulated caller; the AudioSocket server's actions from the recorded notes. Time runs at
``SCALE`` of the recording (the test prompt file is shortened to match); before each request the
replay waits until the emulator has sent as many events as Asterisk had at that point, so
timeouts that are real (the 2 s AudioSocket timeout) still happen in the right order.
"""
from __future__ import annotations

import re

import pytest

from asterisk_emulator import AsteriskEmulator
from emu_replay import SCALE, Replayer, assert_same_events, shape
from emu_testkit import FakeEngine, ari_client, load_jsonl, tone, write_wav

SCENARIOS = ["ari-main.jsonl", "ari-agent-hangup.jsonl", "ari-as-close.jsonl",
             "ari-ws-reconnect.jsonl", "ari-externalmedia-slin.jsonl",
             "snoop/ari-C-twoem.jsonl", "snoop/ari-A-bridge-spy.jsonl",
             "ari-fork-no-n.jsonl", "ari-fork-ulaw.jsonl", "ari-externalmedia-slin16.jsonl",
             "snoop/ari-C-twoem-agent-hangup.jsonl", "snoop/ari-C-twofork.jsonl",
             "snoop/ari-B-control.jsonl", "ari-channel-playback-nodtmf.jsonl"]


@pytest.mark.anyio
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_replay_matches_recording(scenario, tmp_path):
    lines = load_jsonl(scenario)
    prompt_dir = tmp_path / "sounds"
    (prompt_dir / "test").mkdir(parents=True)
    # the recordings' 2.0 s prompt, scaled like the rest of the timeline
    write_wav(prompt_dir / "test" / "agent-prompt.wav", tone(1000, 2.0 * SCALE))
    async with FakeEngine() as engine:
        async with AsteriskEmulator(audiosocket_address=engine.address,
                                    sounds_dir=str(prompt_dir)) as emu:
            rp = Replayer(lines, emu, engine, str(prompt_dir))
            async with ari_client(emu) as client:
                await rp.run(client)

            # 1. every request: same status and the same response shape
            for d, status, data in rp.results:
                where = f"{d['method']} {d['path']} {d.get('query')}"
                assert status == d["status"], where
                assert shape(data) == shape(d["response"]), where
                if isinstance(data, dict) and "state" in data and "name" in data:
                    assert data["state"] == d["response"]["state"], where
                    assert rp.ours.norm(data["name"]) == rp.rec.norm(d["response"]["name"])
                if isinstance(data, list) and data and "dialplan" in data[0]:
                    got = sorted((rp.ours.norm(c["name"]), c["state"]) for c in data)
                    want = sorted((rp.rec.norm(c["name"]), c["state"]) for c in d["response"])
                    assert got == want, where
                if isinstance(data, list) and data and "channel_ids" in data[0]:
                    got = sorted(rp.ours.key_by_id[c] for c in data[0]["channel_ids"])
                    want = sorted(rp.rec.key_by_id[c] for c in d["response"][0]["channel_ids"])
                    assert got == want, where
                if isinstance(data, dict) and "value" in data:
                    assert data == d["response"], where

            # 2. the events of every WebSocket: same sequence, same keys in the same order
            for label, ws in rp.ws.items():
                lines = [d for d in rp.lines
                         if d["dir"] == "event" and d.get("ws", "ws1") == label]
                recorded = [d["event"] for d in lines]
                got = [rp.norm_event(e, rp.ours) for e in ws.events]
                want = [rp.norm_event(e, rp.rec) for e in recorded]
                assert_same_events(got, want, [d["t"] for d in lines])
                for mine in ws.events:      # exact shapes: keys and their order (FACT 1)
                    theirs = next(e for e in recorded if e["type"] == mine["type"]
                                  and ("soft" in e) == ("soft" in mine))
                    assert list(mine) == list(theirs), mine["type"]
                    for sub in ("channel", "bridge", "playback", "peer"):
                        if sub in theirs:
                            assert list(mine[sub]) == list(theirs[sub])
                    assert mine["asterisk_id"] == "02:fc:00:00:00:01"
                    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000",
                                        mine["timestamp"])

            # 3. nothing left over that the recording did not have at its end
            assert not emu.playbacks
            assert [c.name for c in emu.channels.values()] == []


