"""Calls over externalMedia RTP (`calls.audio_transport: externalmedia_rtp`) through the Asterisk
emulator (its RTP legs reproduce more/ M1-M14) with the fake Realtime provider."""
import socket

import anyio
import pytest

from engine_harness import eventually, peak_tone_level, running_rig, tone
from fakes.realtime_server import FakeRealtimeServer

pytestmark = pytest.mark.anyio
GREETING_HZ = 440
CALLER_HZ = 600  # the caller "speaks" a tone; the fake provider's reply is the caller's own audio


def rtp(fmt="slin16", **extra):
    return {"audio_transport": "externalmedia_rtp"}, {"format": fmt, "port_start": 31000, "port_end": 31199, **extra}


async def answered_call(rig):
    call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
    return call


def capture_leg(rig, call_index=0):
    return [leg for leg in rig.emu.rtp_legs if leg.channel.id.endswith("-capture")][call_index]


async def nothing_left(rig):
    await eventually(lambda: not rig.emu.channels and not rig.emu.bridges, what="channels and bridges gone")
    await eventually(lambda: not rig.engine.deps.rtp_ports.in_use, what="RTP ports released")
    assert all(leg.closed for leg in rig.emu.rtp_legs)


@pytest.mark.parametrize("fmt", ["slin16", "ulaw", "slin"])
async def test_a_call_is_answered_and_its_reply_heard_over_rtp(tmp_path, fmt):
    calls, rtp_settings = rtp(fmt)
    async with running_rig(tmp_path, calls=calls, rtp=rtp_settings) as rig:
        call = await answered_call(rig)
        leg = capture_leg(rig)
        assert leg.format == fmt and leg.channel.name.startswith("UnicastRTP/127.0.0.1:")
        await call.say(tone(CALLER_HZ, 1000) + b"\x00" * 320 * 40)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), CALLER_HZ) > 2000, 8, "reply heard")
        assert leg.sent > 50 and leg.dropped["stranger"] == 0
        await call.hangup()
        await nothing_left(rig)
