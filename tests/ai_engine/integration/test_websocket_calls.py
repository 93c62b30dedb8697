"""Calls over chan_websocket (`calls.audio_transport: websocket`, externalMedia connection_type=server)
through the Asterisk emulator (its /media/<id> connections reproduce more/ M15-M32) with the fake
Realtime provider."""
import pytest

import transport_scenarios as kit
from engine_harness import eventually, free_port, running_rig, tone
from fakes.realtime_server import FakeRealtimeServer

pytestmark = pytest.mark.anyio


def ws(fmt="slin16"):
    return {"calls": {"audio_transport": "websocket"}, "websocket": {"format": fmt}}


def legs(rig):
    return rig.emu.websocket_legs


def capture_leg(rig, index=0):
    return [leg for leg in rig.emu.websocket_legs if leg.channel.id.endswith("-capture")][index]


def released(rig):
    return all(leg.closed for leg in rig.emu.websocket_legs)


@pytest.mark.parametrize("fmt", ["slin16", "slin"])
async def test_a_call_is_answered_and_its_reply_heard_over_websocket(tmp_path, fmt):
    await kit.reply_heard(tmp_path, legs, released, **ws(fmt))


@pytest.mark.parametrize("mode", ["stream", "file"])
async def test_barge_in_over_websocket(tmp_path, mode):
    await kit.barge_in(tmp_path, mode, released, **ws())


async def test_two_calls_at_once_hear_only_their_own_replies(tmp_path):
    await kit.two_calls_without_cross_talk(tmp_path, released, **ws())


async def test_a_leg_whose_frames_stop_ends_the_call(tmp_path):
    await kit.silent_leg_ends_the_call(tmp_path, capture_leg, released, **ws())


async def test_wideband_both_ways_over_websocket(tmp_path):
    """slin16 in and out: the provider gets 16 kHz, agent audio goes back as 640-byte frames."""
    fake = FakeRealtimeServer()
    fake.port = free_port()
    settings = ws("slin16")
    settings["providers"] = {"local": {"url": fake.url, "health_url": None, "input_rate": 16000, "output_rate": 16000}}
    async with running_rig(tmp_path, fake=fake, playback={"downstream_mode": "stream"}, **settings) as rig:
        call = await kit.answered_call(rig)
        await call.say(tone(600, 1000) + b"\x00" * 320 * 40)
        await eventually(lambda: kit.tone_in_provider_input(fake, 600) > 2000, 8, "caller audio at the provider")
        assert fake.sessions[0].input_rate == 16000
        await eventually(lambda: kit.peak_tone_level(call.heard_pcm(), 600) > 2000, 8, "reply heard")
        playback = next(leg for leg in rig.emu.websocket_legs if leg.channel.id.endswith("-playback"))
        sent = playback.messages("out", "binary")
        assert sent and {m["len"] for m in sent} == {640}  # one 20 ms slin16 frame per media-clock tick
        assert not playback.dropped_frames and not playback.xoff
        capture = capture_leg(rig)
        assert {m["len"] for m in capture.messages("in", "binary")} == {640}
        await call.hangup()
        await kit.nothing_left(rig, released)


async def test_a_malformed_frame_ends_the_call_cleanly(tmp_path):
    async with running_rig(tmp_path, **ws()) as rig:
        await kit.answered_call(rig)
        capture_leg(rig).ws.send_bytes(b"\x01\x02\x03")  # not whole 16-bit samples
        await eventually(lambda: not rig.engine.registry.calls, 8, "the engine ends the call")
        await eventually(lambda: not [c for c in rig.emu.channels.values() if c.kind == "extmedia"], what="legs hung up")
        assert not rig.emu.bridges and released(rig)


async def test_a_second_connection_to_the_same_media_id_is_refused(tmp_path):
    import websockets

    async with running_rig(tmp_path, **ws()) as rig:
        await kit.answered_call(rig)
        leg = capture_leg(rig)
        with pytest.raises(websockets.InvalidStatus) as refused:  # a stranger cannot take over a call's media
            await websockets.connect(f"ws://127.0.0.1:{rig.emu.port}/media/{leg.connection_id}")
        assert refused.value.response.status_code == 409
        assert not leg.closed and rig.engine.registry.calls
