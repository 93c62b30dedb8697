"""Bridge recording faithfulness: the emulator against the recording of a real Asterisk 22.10.1
(tests/asterisk_facts/more/: ari-record.jsonl, summary-record.json, recording-record.wav; M43-M46).

Set up as recorded: the caller and an externalMedia RTP leg (which sends nothing) in one mixing
bridge, `record`, a bridge playback of a 1000 Hz prompt, the caller hangs up, the RTP leg is
deleted, then the live and stored recording resources are asked for."""
from __future__ import annotations

import asyncio
import json
import wave

import numpy as np
import pytest

from emu_testkit import FACTS, Rig, tone, tone_amplitude, write_wav

pytestmark = pytest.mark.anyio
MORE = FACTS / "more"


def recorded():
    return [json.loads(line) for line in (MORE / "ari-record.jsonl").read_text().splitlines() if line.strip()]


def rec_rest(path_end, method="GET", status=None):
    return [l for l in recorded() if l["dir"] == "rest" and l["method"] == method and l["path"].endswith(path_end)
            and (status is None or l["status"] == status)]


def shape(obj):
    return sorted(obj) if isinstance(obj, dict) else obj


async def test_record_a_bridge_as_recorded(tmp_path):
    sounds, recordings = tmp_path / "sounds", tmp_path / "recording"
    (sounds / "facts").mkdir(parents=True)
    write_wav(sounds / "facts" / "prompt.wav", tone(1000, 2.0))
    async with Rig(sounds_dir=str(sounds), recordings_dir=str(recordings)) as rig:
        call = await rig.answered_call()
        bridge = await rig.bridge("facts-record")
        await rig.add(bridge, call.channel_id)
        r = await rig.post("/channels/externalMedia", app="ai-agent", external_host="127.0.0.1:9",
                           format="ulaw", encapsulation="rtp", transport="udp")
        rtp = r.json()["id"]
        await rig.started(rtp)
        await rig.add(bridge, rtp)
        speech = asyncio.ensure_future(call.say(tone(600, 1.0).tobytes()))

        # M43: 201 with the recording's four keys, state queued; RecordingStarted follows.
        want = rec_rest("/record", "POST")[0]
        got = await rig.client.post(f"/bridges/{bridge}/record", params={"name": "facts-record-1", "format": "wav",
                                                                          "ifExists": "overwrite"})
        assert got.status_code == want["status"] == 201
        assert list(got.json()) == list(want["response"])
        assert got.json() == {"name": "facts-record-1", "format": "wav", "state": "queued",
                              "target_uri": f"bridge:{bridge}"}
        started = await rig.ws.wait(lambda e: e["type"] == "RecordingStarted")
        assert started["recording"]["state"] == "recording" and list(started["recording"]) == list(want["response"])
        peers = [e for e in rig.ws.events if e["type"] == "ChannelVarset" and e["variable"] == "BRIDGEPEER"
                 and e["value"].startswith("Recorder/ARI-")]
        assert len(peers) == 2  # M43: seen only in both members' BRIDGEPEER, no ChannelEnteredBridge
        assert not [e for e in rig.ws.events if e["type"] == "ChannelEnteredBridge"
                    and "Recorder" in e["channel"]["name"]]

        await rig.post(f"/bridges/{bridge}/play", media="sound:facts/prompt", playbackId="facts-pb-1")
        live = await rig.client.get("/recordings/live/facts-record-1")  # M44
        assert live.status_code == 200 and live.json()["state"] == "recording"
        assert shape(live.json()) == shape(rec_rest("/recordings/live/facts-record-1796091757", status=200)[0]["response"])
        await rig.ws.wait(lambda e: e["type"] == "PlaybackFinished", timeout=5)
        await speech

        # M45: the caller's hang-up does not end the recording.
        await call.hangup()
        await rig.ws.wait(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == call.channel_id)
        await asyncio.sleep(0.3)
        assert (await rig.client.get("/recordings/live/facts-record-1")).json()["state"] == "recording"
        assert not [e for e in rig.ws.events if e["type"] == "RecordingFinished"]

        # ... it ends when the last channel leaves: RecordingFinished after its ChannelDestroyed.
        await rig.client.delete(f"/channels/{rtp}")
        finished = await rig.ws.wait(lambda e: e["type"] == "RecordingFinished")
        types = [e["type"] for e in rig.ws.events]
        assert types.index("RecordingFinished") > types.index("ChannelDestroyed")
        want_finished = next(l["event"] for l in recorded() if l["dir"] == "event" and l["event"]["type"] == "RecordingFinished")
        assert list(finished["recording"]) == list(want_finished["recording"])
        assert finished["recording"]["state"] == "done" and isinstance(finished["recording"]["duration"], int)

        # M46: live gone, stored has only name and format; the file: 8 kHz mono 16-bit, caller + prompt.
        gone = await rig.client.get("/recordings/live/facts-record-1")
        assert gone.status_code == 404 and gone.json() == rec_rest("/recordings/live/facts-record-1796091757", status=404)[0]["response"]
        stored = (await rig.client.get("/recordings/stored/facts-record-1")).json()
        assert stored == {"name": "facts-record-1", "format": "wav"}
        assert (await rig.client.get("/recordings/stored")).json() == [stored]
        await rig.client.delete(f"/bridges/{bridge}")

        path = recordings / "facts-record-1.wav"
        with wave.open(str(path)) as ours, wave.open(str(MORE / "recording-record.wav")) as real:
            assert (ours.getframerate(), ours.getnchannels(), ours.getsampwidth()) == \
                   (real.getframerate(), real.getnchannels(), real.getsampwidth()) == (8000, 1, 2)
            samples = np.frombuffer(ours.readframes(ours.getnframes()), "<i2").astype(np.int16)
        assert tone_amplitude(samples, 600) > 1000 and tone_amplitude(samples, 1000) > 1000
        assert finished["recording"]["duration"] == len(samples) // 8000

        deleted = await rig.client.delete("/recordings/stored/facts-record-1")
        assert deleted.status_code == 204 and not path.exists()
        assert (await rig.client.get("/recordings/stored/facts-record-1")).status_code == 404


async def test_the_recorder_takes_part_in_bridgepeer_as_recorded(tmp_path):
    """BRIDGEPEER values after `record` and with a bridge playback: the recorder first, then the
    other parties in join order (ari-record.jsonl lines 22-23, 26-27)."""
    lines = [l["event"] for l in recorded() if l["dir"] == "event" and l["event"]["type"] == "ChannelVarset"
             and l["event"]["variable"] == "BRIDGEPEER" and "Recorder" in l["event"]["value"]]
    kinds = [[p.split("/")[0] for p in e["value"].split(",")] for e in lines]
    assert kinds[:4] == [["Recorder", "UnicastRTP"], ["Recorder", "Local"],
                         ["Recorder", "UnicastRTP", "Announcer"], ["Recorder", "Local", "Announcer"]]
    async with Rig(recordings_dir=str(tmp_path)) as rig:
        call = await rig.answered_call()
        bridge = await rig.bridge("facts-record")
        await rig.add(bridge, call.channel_id)
        r = await rig.post("/channels/externalMedia", app="ai-agent", external_host="127.0.0.1:9",
                           format="ulaw", encapsulation="rtp", transport="udp")
        rtp = r.json()["id"]
        await rig.started(rtp)
        await rig.add(bridge, rtp)
        await rig.post(f"/bridges/{bridge}/record", name="r1", format="wav", ifExists="overwrite")
        await rig.ws.wait(lambda e: e["type"] == "RecordingStarted")
        await rig.post(f"/bridges/{bridge}/play", media="sound:nothing-here", playbackId="p1")
        await rig.ws.wait(lambda e: e["type"] == "PlaybackStarted")
        ours = [e for e in rig.ws.events if e["type"] == "ChannelVarset" and e["variable"] == "BRIDGEPEER"
                and "Recorder" in e["value"]]
        got = [[p.split("/")[0] for p in e["value"].split(",")] for e in ours]
        local = "Local" if call.channel.name.startswith("Local/") else call.channel.name.split("/")[0]
        assert got[:4] == [["Recorder", "UnicastRTP"], ["Recorder", local],
                           ["Recorder", "UnicastRTP", "Announcer"], ["Recorder", local, "Announcer"]]
        await rig.client.delete(f"/bridges/{bridge}")
