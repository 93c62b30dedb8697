"""Playback semantics (FACTS 19-22, 51, 56, 57) and sound file resolution."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from emu_testkit import Rig, tone, write_wav

pytestmark = pytest.mark.anyio


async def _call_in_bridge(rig):
    call = await rig.answered_call()
    b1 = await rig.bridge()
    await rig.add(b1, call.channel_id)
    return call, b1


def _t(rig, etype, pid):
    return next(r["t"] for r in rig.emu.event_log if r["event"]["type"] == etype
                and r["event"]["playback"]["id"] == pid)


async def test_relative_sound_finishes_after_its_duration(tmp_path):
    (tmp_path / "ai-generated").mkdir()
    write_wav(tmp_path / "ai-generated" / "reply-1.wav", tone(1000, 0.5))
    async with Rig(sounds_dir=str(tmp_path)) as rig:
        call, b1 = await _call_in_bridge(rig)
        r = await rig.post(f"/bridges/{b1}/play", media="sound:ai-generated/reply-1",
                           playbackId="p1")
        assert r.status_code == 201
        assert r.json() == {"id": "p1", "media_uri": "sound:ai-generated/reply-1",
                            "target_uri": f"bridge:{b1}", "language": "en",
                            "state": "queued"}                                # FACT 19, 22
        fin = await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackFinished")
        assert fin["playback"]["state"] == "done"
        assert 0.5 <= _t(rig, "PlaybackFinished", "p1") - _t(rig, "PlaybackStarted", "p1") \
            < 0.56                                                              # FACT 20
        assert (await rig.client.get("/playbacks/p1")).status_code == 404       # FACT 57
        assert not rig.emu.playbacks


@pytest.mark.parametrize("media", ["sound:missing", "sound:wideband", "sound:stereo"])
async def test_unplayable_files_fail(tmp_path, media):
    write_wav(tmp_path / "wideband.wav", tone(1000, 0.2, rate=16000), rate=16000)
    import wave
    with wave.open(str(tmp_path / "stereo.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(800, dtype="<i2").tobytes())
    async with Rig(sounds_dir=str(tmp_path)) as rig:
        call, b1 = await _call_in_bridge(rig)
        r = await rig.post(f"/channels/{call.channel_id}/play", media=media, playbackId="x")
        assert r.json()["state"] == "queued"
        fin = await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackFinished")
        assert fin["playback"]["state"] == "failed"                            # FACT 51
        types = [r["event"]["type"] for r in rig.emu.event_log
                 if r["event"]["type"].startswith("Playback")]
        assert types == ["PlaybackStarted", "PlaybackFinished"]


async def test_unknown_scheme_never_finishes():
    async with Rig() as rig:
        call, b1 = await _call_in_bridge(rig)
        r = await rig.post(f"/channels/{call.channel_id}/play", media="bogus:thing")
        pid = r.json()["id"]
        await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackStarted")
        with pytest.raises(asyncio.TimeoutError):                              # FACT 51
            await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackFinished", timeout=0.4)
        assert (await rig.client.get(f"/playbacks/{pid}")).json()["state"] == "playing"


async def test_stop_is_immediate_and_same_id_is_queued(tmp_path):
    write_wav(tmp_path / "p.wav", tone(1000, 0.6))
    async with Rig(sounds_dir=str(tmp_path)) as rig:
        call, b1 = await _call_in_bridge(rig)
        for _ in range(2):                                                     # FACT 56
            r = await rig.post(f"/bridges/{b1}/play", media="sound:p", playbackId="dup")
            assert r.json()["state"] == "queued"
        await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackStarted")
        await asyncio.sleep(0.1)
        t0 = asyncio.get_running_loop().time()
        assert (await rig.client.delete("/playbacks/dup")).status_code == 204
        fin = await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackFinished")
        assert fin["playback"]["state"] == "done"                              # FACT 21
        assert _t(rig, "PlaybackFinished", "dup") - t0 < 0.02
        starts = [r for r in rig.emu.event_log if r["event"]["type"] == "PlaybackStarted"]
        assert len(starts) == 2 and starts[1]["t"] - t0 < 0.02
        n = len(rig.emu.event_log)
        assert (await rig.client.delete("/playbacks/dup")).status_code == 204
        await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackFinished", since=n)
        assert (await rig.client.delete("/playbacks/dup")).status_code == 404
        assert not rig.emu.playbacks
