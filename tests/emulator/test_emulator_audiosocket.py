"""AudioSocket faithfulness: framing, cadence, levels, what each leg hears, and the ways a leg
ends (FACTS 9-17, 24-26, 32-35, 43; snoop F2-F8, F17, F20, F23; docs/architecture.md §3)."""
from __future__ import annotations

import asyncio
import json
import uuid as uuidlib

import numpy as np
import pytest

from emu_testkit import (FACTS, Rig, load_jsonl, pcm, tone, tone_amplitude, write_wav)

pytestmark = pytest.mark.anyio


def window(frames, t0, t1):
    """Samples of the (t, payload) frames received between t0 and t1."""
    data = b"".join(p for t, p in frames if t0 <= t <= t1)
    return pcm(data)


def events_of(rig, etype):
    return [r for r in rig.emu.event_log if r["event"]["type"] == etype]


async def test_uuid_frame_first_then_320_byte_frames_every_20ms():
    rec = [d for d in load_jsonl("audiosocket-main.jsonl") if d["dir"] in ("in", "out")]
    summary = json.loads((FACTS / "summary-main.json").read_text())["audiosocket"][0]
    assert rec[0]["kind"] == 1 and rec[0]["len"] == 16                      # FACT 9
    async with Rig() as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        fid, conn = await rig.fork(b1)
        await call.say(tone(600, 1.0).tobytes())
        t_kind, first = conn.frames[0][1], conn.frames[0][2]
        assert t_kind == rec[0]["kind"] and len(first) == rec[0]["len"]
        assert str(uuidlib.UUID(bytes=first)) == conn.uuid
        audio = conn.audio_frames()
        assert {len(p) for _, p in audio} == {320}                            # FACT 10
        gaps = np.diff([t for t, _ in audio]) * 1000
        assert abs(np.median(gaps) - summary["audio_gap_ms"]["median"]) < 0.5
        assert np.percentile(gaps, 95) < 23
        samples = window(audio, audio[10][0], audio[-10][0])
        assert 7800 < tone_amplitude(samples, 600) < 8050                    # FACT 13
        assert not any(k in (0x00,) for _, k, _ in conn.frames)              # FACT 32


async def test_snoop_capture_is_caller_only_during_bridge_playback(tmp_path):
    write_wav(tmp_path / "prompt.wav", tone(1000, 0.6))
    async with Rig(sounds_dir=str(tmp_path)) as rig:
        call = await rig.answered_call()
        b1, cap = await rig.media_path(call.channel_id)
        speech = asyncio.ensure_future(call.say(tone(600, 1.6).tobytes()))
        await asyncio.sleep(0.3)
        await rig.post(f"/bridges/{b1}/play", media="sound:prompt", playbackId="pb1")
        fin = await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackFinished")
        await speech
        started = events_of(rig, "PlaybackStarted")[0]["t"]
        finished = next(r["t"] for r in rig.emu.event_log if r["event"] is fin)
        during = window(cap.audio_frames(), started + 0.06, finished - 0.06)
        assert 7900 < tone_amplitude(during, 600) < 8050                     # snoop F6
        assert tone_amplitude(during, 1000) < 9                              # no echo
        heard = pcm(call.heard_pcm())
        t_ans = call.t_answered
        a, b = int((started + 0.06 - t_ans) * 8000), int((finished - 0.06 - t_ans) * 8000)
        assert tone_amplitude(heard[a:b], 1000) > 7900                       # snoop F8
        # the caller sends DTMF (no audio): the snoop keeps sending frames, zeros (F2, F4)
        t_dtmf = asyncio.get_running_loop().time()
        await call.send_dtmf("1#")
        await asyncio.sleep(0.1)
        frames = [(t, p) for t, p in cap.audio_frames() if t > t_dtmf]
        assert len(frames) >= 20
        assert max(np.diff([t for t, _ in frames])) < 0.030
        assert any(not np.any(pcm(p)) for _, p in frames)
        assert 0x03 not in [k for _, k, _ in cap.frames]                     # snoop F17
        assert [r["event"]["digit"] for r in events_of(rig, "ChannelDtmfReceived")] == ["1", "#"]


async def test_fork_sharing_the_callers_bridge_hears_the_prompt_and_dtmf(tmp_path):
    write_wav(tmp_path / "prompt.wav", tone(1000, 0.5))
    async with Rig(sounds_dir=str(tmp_path)) as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        fid, fork = await rig.fork(b1)
        speech = asyncio.ensure_future(call.say(tone(600, 1.0).tobytes()))
        await asyncio.sleep(0.2)
        await rig.post(f"/bridges/{b1}/play", media="sound:prompt", playbackId="pb1")
        await asyncio.sleep(0.1)
        r = await rig.client.get(f"/bridges/{b1}")
        assert r.json()["technology"] == "softmix"                           # FACT 23
        await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackFinished")
        await speech
        started = events_of(rig, "PlaybackStarted")[0]["t"]
        during = window(fork.audio_frames(), started + 0.06, started + 0.44)
        assert tone_amplitude(during, 1000) > 7800                           # FACT 24: echo
        assert tone_amplitude(during, 600) > 7800
        assert (await rig.client.get(f"/bridges/{b1}")).json()["technology"] == "simple_bridge"
        # DTMF: 0x03 on the fork plus ChannelDtmfReceived for caller and fork ;2 (FACT 17),
        # no audio while the caller sends it (FACT 15)
        t0 = asyncio.get_running_loop().time()
        await call.send_dtmf("1")
        await asyncio.sleep(0.05)
        assert [p for _, k, p in fork.frames if k == 0x03] == [b"1"]
        names = [r["event"]["channel"]["name"] for r in events_of(rig, "ChannelDtmfReceived")]
        assert names[0] == call.channel.name and names[1].endswith(";2")
        ts = [t for t, _ in fork.audio_frames() if t > t0 - 0.05]
        assert max(np.diff(ts)) > 0.09


async def test_channel_playback_mutes_caller_toward_bridge_not_toward_snoop(tmp_path):
    write_wav(tmp_path / "prompt.wav", tone(1000, 0.6))
    async with Rig(sounds_dir=str(tmp_path)) as rig:
        call = await rig.answered_call()
        b1, cap = await rig.media_path(call.channel_id)
        _, leg = await rig.extmedia(b1)
        speech = asyncio.ensure_future(call.say(tone(600, 1.2).tobytes()))
        await asyncio.sleep(0.2)
        await rig.post(f"/channels/{call.channel_id}/play", media="sound:prompt",
                       playbackId="pbc")
        stream = leg.stream(tone(440, 0.4))          # the agent streams during the playback
        await rig.emu.wait_for_event(lambda e: e["type"] == "PlaybackFinished")
        await asyncio.gather(speech, stream)
        t_start = events_of(rig, "PlaybackStarted")[0]["t"]
        t_end = events_of(rig, "PlaybackFinished")[0]["t"]
        muted = [t for t, _ in leg.audio_frames() if t_start + 0.03 < t < t_end - 0.03]
        assert muted == []                                  # FACT 26, snoop F20: no frames
        kept = window(cap.audio_frames(), t_start + 0.05, t_end - 0.05)
        assert tone_amplitude(kept, 600) > 7900             # snoop F5
        assert tone_amplitude(kept, 1000) < 9
        heard = pcm(call.heard_pcm())
        a = int((t_start + 0.05 - call.t_answered) * 8000)
        b = int((t_end - 0.05 - call.t_answered) * 8000)
        assert tone_amplitude(heard[a:b], 1000) > 7900      # FACT 25: the caller hears it
        assert tone_amplitude(heard[a:b], 440) < 60         # snoop F20: not the stream


async def test_agent_audio_heard_at_full_level_and_not_echoed():
    async with Rig() as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        _, fork = await rig.fork(b1)
        t0 = asyncio.get_running_loop().time()
        await fork.stream(tone(440, 0.6))
        await asyncio.sleep(0.1)
        segs = call.heard_segments(threshold=100)
        assert segs and segs[0][0] >= t0 and segs[-1][1] - segs[0][0] >= 0.55
        heard = pcm(call.heard_pcm())
        a = int((segs[0][0] + 0.1 - call.t_answered) * 8000)
        assert 7900 < tone_amplitude(heard[a:a + 3200], 440) < 8050         # FACT 14
        back = window(fork.audio_frames(), t0, t0 + 0.7)
        assert tone_amplitude(back, 440) < 10                                # never echoed


@pytest.mark.parametrize("kind,payload", [(0x01, bytes(16)), (0x03, b"5"), (0x42, b"x"),
                                          (0x10, b"")])
async def test_bad_frame_from_engine_hangs_the_fork_up(kind, payload):
    async with Rig() as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        fid, fork = await rig.fork(b1)
        n = len(rig.emu.event_log)
        fork.send(kind, payload)
        await asyncio.wait_for(fork.closed.wait(), 2)
        await rig.emu.wait_for_event(lambda e: e["type"] == "ChannelDestroyed"
                                     and e["channel"]["id"] == fid, since=n)
        got = [(r["event"]["type"], r["event"]["channel"]["name"][-2:],
                r["event"].get("cause")) for r in rig.emu.event_log[n:]
               if "channel" in r["event"] and r["event"]["type"] != "ChannelVarset"]
        assert got == [("ChannelHangupRequest", ";2", 16), ("ChannelHangupRequest", ";1", 0),
                       ("ChannelDestroyed", ";2", 0), ("ChannelLeftBridge", ";1", None),
                       ("StasisEnd", ";1", None), ("ChannelDestroyed", ";1", 16)]
        assert fork.closed_by == "asterisk"
        assert call.channel_id in rig.emu.channels                        # the caller stays


async def test_hangup_frame_from_engine_ends_audiosocket_like_a_close():
    recorded = [d["event"] for d in load_jsonl("ari-as-close.jsonl")
                if d["dir"] == "event" and 1.8 < d["t"] < 1.9]
    async with Rig() as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        fid, fork = await rig.fork(b1)
        n = len(rig.emu.event_log)
        fork.send(0x00, b"")
        await rig.emu.wait_for_event(lambda e: e["type"] == "ChannelDestroyed"
                                     and e["channel"]["name"].endswith(";2"), since=n)
        got = [(r["event"]["type"], r["event"].get("channel", {}).get("name", "")[-2:],
                r["event"].get("cause"), r["event"].get("dialplan_app_data"))
               for r in rig.emu.event_log[n:]]
        want = [(e["type"], e.get("channel", {}).get("name", "")[-2:], e.get("cause"),
                 e.get("dialplan_app_data")) for e in recorded]
        assert got == want                                                   # FACT 35


async def test_two_second_inactivity_timeout_for_a_local_fork_not_for_external_media():
    rec = [d["event"] for d in load_jsonl("ari-agent-hangup.jsonl")
           if d["dir"] == "event" and 3.5 < d["t"] < 3.6]
    async with Rig() as rig:
        quiet = await rig.answered_call(silence="none")     # sends nothing when not speaking
        b1 = await rig.bridge()
        await rig.add(b1, quiet.channel_id)
        fid, fork = await rig.fork(b1)
        other = await rig.answered_call(silence="none")
        b3 = await rig.bridge()
        await rig.add(b3, other.channel_id)
        eid, em = await rig.extmedia(b3)
        await asyncio.gather(quiet.say(tone(600, 0.2).tobytes()),
                             other.say(tone(600, 0.2).tobytes()))
        n = len(rig.emu.event_log)
        await asyncio.wait_for(fork.closed.wait(), 3)
        t_close = asyncio.get_running_loop().time()
        t_last = fork.audio_frames()[-1][0]
        assert 1.97 < t_close - t_last < 2.1                                 # FACT 34
        got = [(r["event"]["type"], r["event"]["channel"]["name"][-2:], r["event"].get("cause"))
               for r in rig.emu.event_log[n:]]
        want = [(e["type"], e["channel"]["name"][-2:], e.get("cause")) for e in rec]
        assert got == want
        gaps = np.diff([t for t, _ in fork.audio_frames()])
        assert len(fork.audio_frames()) <= 13               # FACT 15: frames only while speaking
        assert eid in rig.emu.channels and not em.closed.is_set()            # snoop F23
        r = await rig.client.delete(f"/channels/{fid}")
        assert r.status_code == 404 and r.json() == {"message": "Channel not found"}
        assert gaps.max() < 0.03


async def test_local_fork_without_formats_is_slin192_half_amplitude():
    async with Rig() as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        _, fork = await rig.fork(b1, formats=None)
        await call.say(tone(600, 0.6).tobytes())
        audio = fork.audio_frames()
        samples = window(audio, audio[5][0], audio[-5][0])
        assert 3900 < tone_amplitude(samples, 600) < 4050       # docs/architecture.md §3
        r = await rig.client.post("/channels", json={
            "endpoint": f"Local/{uuidlib.uuid4()}@ai-agent-media-fork/n", "app": "ai-agent",
            "formats": "nosuchcodec"})
        assert r.status_code == 400
        assert r.json() == {"message": "Provided format (nosuchcodec) was not found"}  # F59


async def test_external_media_slin16_frames_both_ways():
    rec = [d for d in load_jsonl("audiosocket-externalmedia-slin16.jsonl")
           if d["dir"] == "in" and d["kind"] != 1]
    async with Rig() as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        loop = asyncio.get_running_loop()
        uid = str(uuidlib.uuid4())
        r = await rig.client.post("/channels/externalMedia", params={
            "app": "ai-agent", "external_host": f"127.0.0.1:{rig.engine.port}",
            "format": "slin16", "encapsulation": "audiosocket", "transport": "tcp",
            "data": uid})
        t_response = loop.time()
        assert r.json()["channelvars"] == {"AUDIOSOCKET_SERVICE": f"127.0.0.1:{rig.engine.port}",
                                           "AUDIOSOCKET_UUID": uid}          # FACT 41
        em = await rig.engine.wait_conn(uid)
        assert em.frames[0][0] < t_response        # connected and UUID sent before the 200
        eid = r.json()["id"]
        await rig.started(eid)
        await rig.add(b1, eid)
        await call.say(tone(600, 0.4).tobytes())
        await em.stream(tone(440, 0.5, rate=16000), kind=0x12, frame_bytes=640)
        await asyncio.sleep(0.05)
        kinds = {(k, len(p)) for _, k, p in em.frames if k != 0x01}
        assert kinds == {(rec[0]["kind"], rec[0]["len"])} == {(0x12, 640)}  # FACT 43
        up = em.audio(0x12)
        first = int(np.flatnonzero(up)[0])
        assert tone_amplitude(up[first + 320:first + 4800], 600, rate=16000) > 7800
        heard = pcm(call.heard_pcm())
        seg = call.heard_segments(threshold=100)[-1]
        a = int((seg[0] + 0.1 - call.t_answered) * 8000)
        assert tone_amplitude(heard[a:a + 2400], 440) > 7800
        r = await rig.client.get(f"/channels/{eid}")
        assert r.json()["name"] == f"AudioSocket/127.0.0.1:{rig.engine.port}-{em.uuid}"
        n = len(rig.emu.event_log)
        await call.send_dtmf("1")
        await asyncio.sleep(0.05)
        assert [p for _, k, p in em.frames if k == 0x03] == [b"1"]               # FACT 44
        dtmf = [r["event"]["channel"]["id"] for r in rig.emu.event_log[n:]
                if r["event"]["type"] == "ChannelDtmfReceived"]
        assert dtmf == [call.channel_id]


async def test_burst_from_engine_is_not_buffered():
    """Asterisk neither paces nor buffers what it receives (docs/architecture.md §3): a burst keeps at
    most 160 ms, the rest is dropped."""
    async with Rig() as rig:
        call = await rig.answered_call()
        b1 = await rig.bridge()
        await rig.add(b1, call.channel_id)
        eid, em = await rig.extmedia(b1)
        data = tone(440, 1.0).astype("<i2").tobytes()
        for off in range(0, len(data), 320):
            em.send(0x10, data[off:off + 320])
        await asyncio.sleep(0.5)
        heard = sum(b - a for a, b in call.heard_segments(threshold=100))
        assert 0.1 <= heard <= 0.2
