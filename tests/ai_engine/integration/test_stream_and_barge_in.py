"""Stream mode (agent audio paced on an externalMedia playback leg), its fall-back to files, and
barge-in in both modes, through the Asterisk emulator with a fake Realtime provider."""
import anyio
import httpx
import numpy as np
import pytest

from engine_harness import ARI_PASSWORD, eventually, peak_tone_level, running_rig
from fakes.realtime_server import FakeRealtimeServer
from local_ai_server.client import espeak

pytestmark = pytest.mark.anyio
GREETING_HZ = 440
STREAM = {"downstream_mode": "stream"}


def heard_between(call, t0, t1):
    """What the caller heard between two loop times."""
    return call.heard_between(t0, t1)


def playback_leg_log(rig):
    legs = [c for c in rig.emu.audiosocket_log if c.channel_id and c.channel_id.endswith("-playback")]
    return legs[0] if legs else None


async def test_stream_mode_reply_goes_out_as_paced_frames_on_the_playback_leg(tmp_path):
    async with running_rig(tmp_path, playback=STREAM) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
        await call.say(espeak("Hello, can you hear me?") + b"\x00" * 320 * 40)
        # The fake answers with the caller's own words: the caller hears speech back.
        await eventually(lambda: len(call.heard_segments(threshold=1000)) >= 2, 8, "reply heard")
        assert not [r for r in rig.emu.rest_log if r["path"].endswith("/play")], "no file playback in stream mode"
        leg = playback_leg_log(rig)
        out = [f["t"] for f in leg.frames if f["dir"] == "out"]
        assert {f["kind"] for f in leg.frames if f["dir"] == "out"} == {0x10}
        gaps = np.diff(out[-200:]) * 1000
        assert 19.0 < float(np.median(gaps)) < 21.0 and len(out) >= 100
        await call.hangup()
        await eventually(lambda: not rig.emu.channels and not rig.emu.bridges, what="legs and bridges gone")


async def test_stream_mode_falls_back_to_files_when_the_playback_leg_cannot_be_created(tmp_path):
    # snoop_fork: only the playback leg is an externalMedia channel, so only it fails
    async with running_rig(tmp_path, playback=STREAM, calls={"audio_transport": "snoop_fork"}) as rig:
        rig.emu.inject_rest_error("POST", r"/channels/externalMedia$", 500, {"message": "boom"}, count=None)
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard as a file")
        assert [r for r in rig.emu.rest_log if r["path"].endswith("/play")]
        await call.hangup()


async def test_stream_mode_falls_back_to_files_when_the_leg_dies_mid_call(tmp_path):
    async with running_rig(tmp_path, playback=STREAM) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
        leg_id = next(c for c in rig.emu.channels if c.endswith("-playback"))
        async with httpx.AsyncClient(auth=("ai-agent", ARI_PASSWORD)) as http:  # an admin kills the leg
            assert (await http.delete(f"{rig.emu.ari_url}ari/channels/{leg_id}")).status_code == 204
        await call.say(espeak("Hello, can you hear me?") + b"\x00" * 320 * 40)
        await eventually(lambda: [r for r in rig.emu.rest_log if r["path"].endswith("/play")], 8, "reply as a file")
        assert rig.engine.registry.calls, "the call goes on"
        await call.hangup()


@pytest.mark.parametrize("mode", ["stream", "file"])
async def test_barge_in_stops_the_agent_cancels_the_reply_and_answers_the_caller(tmp_path, mode):
    # A long greeting, streamed at real-time pace by the provider: the caller talks over it.
    fake = FakeRealtimeServer(greeting_ms=6000, chunk_ms=100, chunk_interval_s=0.1 if mode == "stream" else 0.0)
    async with running_rig(tmp_path, fake=fake, playback={"downstream_mode": mode}) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
        await anyio.sleep(0.6)  # past the 300 ms protection window
        t_speak = anyio.current_time()
        await call.say(espeak("Wait, I have a question.") + b"\x00" * 320 * 40)
        # The greeting stopped soon after the caller started: nothing of it 0.5 s after.
        assert peak_tone_level(heard_between(call, t_speak + 0.5, t_speak + 1.5), GREETING_HZ) < 500
        assert any(m["type"] == "response.cancel" for m in fake.sessions[0].received)
        if mode == "file":
            assert [r for r in rig.emu.rest_log if r["method"] == "DELETE" and "/playbacks/" in r["path"]]
        # ... and the caller's words are answered (the fake echoes them back).
        t_end = anyio.current_time()
        await eventually(lambda: len(call.heard_pcm()) > (t_end + 1.0 - call.t_answered) * 16000, 5, "time passes")
        assert max(np.abs(np.frombuffer(heard_between(call, t_end, t_end + 1.0), "<i2")), default=0) > 1000
        await call.hangup()


async def test_protection_window_keeps_early_noise_from_cutting_the_agent(tmp_path):
    fake = FakeRealtimeServer(greeting_ms=2000)
    async with running_rig(tmp_path, fake=fake, barge_in={"protection_ms": 1500, "use_provider_events": False}) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: rig.emu.playbacks, 8, "greeting playing")
        t0 = anyio.current_time()
        await call.say(espeak("Uh huh."))  # within the first 1.5 s of the agent's audio
        await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
        assert not [r for r in rig.emu.rest_log if r["method"] == "DELETE" and "/playbacks/" in r["path"]]
        assert peak_tone_level(heard_between(call, t0 + 0.8, t0 + 1.4), GREETING_HZ) > 2000, "the greeting went on"
        await call.hangup()


@pytest.mark.parametrize("mode", ["stream", "file"])
async def test_a_caller_who_keeps_talking_from_the_agents_first_word_is_not_talked_over(tmp_path, mode):
    # Double talk: the caller starts as the agent starts (inside the protection window, so that
    # onset is held back) and goes on talking. The agent must yield once the window has passed.
    fake = FakeRealtimeServer(greeting_ms=5000)  # the whole greeting arrives at once: only the engine can stop it
    barge_in = {"protection_ms": 800, "use_provider_events": False}
    async with running_rig(tmp_path, fake=fake, playback={"downstream_mode": mode}, barge_in=barge_in) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        before = await barge_ins(rig, mode)
        await eventually(lambda: peak_tone_level(call.heard_pcm()[-3200:], GREETING_HZ) > 2000, 8, "greeting started")
        t0 = anyio.current_time()
        await call.say(espeak("I am calling about my order from last week, it has not arrived yet."), wait=False)
        await anyio.sleep(2.5)
        # Held back at first (the window), then stopped: the greeting is not heard 2 s in.
        assert peak_tone_level(heard_between(call, t0, t0 + 0.6), GREETING_HZ) > 2000, "the window held the onset back"
        assert peak_tone_level(heard_between(call, t0 + 1.8, t0 + 2.5), GREETING_HZ) < 500, "the agent yielded"
        assert await barge_ins(rig, mode) == before + 1
        await call.hangup()


async def barge_ins(rig, mode) -> float:
    """The engine's barge-in count for `mode`, as /metrics shows it."""
    prefix = f'ai_engine_barge_ins_total{{mode="{mode}"}} '
    async with httpx.AsyncClient(base_url=rig.http_url) as http:
        lines = (await http.get("/metrics")).text.splitlines()
    return sum(float(line[len(prefix):]) for line in lines if line.startswith(prefix))


async def test_audio_of_a_cancelled_reply_is_never_sent_even_if_the_provider_keeps_sending(tmp_path):
    fake = FakeRealtimeServer(greeting_ms=6000, chunk_ms=100, chunk_interval_s=0.1, ignore_cancel=True)
    async with running_rig(tmp_path, fake=fake, playback=STREAM) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
        await anyio.sleep(0.6)
        t_speak = anyio.current_time()
        await call.say(espeak("Stop please.") + b"\x00" * 320 * 10)
        await anyio.sleep(1.5)  # the misbehaving provider still streams the greeting meanwhile
        assert peak_tone_level(heard_between(call, t_speak + 0.5, anyio.current_time()), GREETING_HZ) < 500
        await call.hangup()
