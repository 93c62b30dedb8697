"""Calls over externalMedia RTP (`calls.audio_transport: externalmedia_rtp`) through the Asterisk
emulator (its UnicastRTP legs reproduce more/ M1-M14) with the fake Realtime provider."""
import socket

import anyio
import numpy as np
import pytest

import transport_scenarios as kit
from engine_harness import eventually, free_port, running_rig, tone
from fakes.realtime_server import FakeRealtimeServer

pytestmark = pytest.mark.anyio


def rtp(fmt="slin16", **extra):
    return {"calls": {"audio_transport": "externalmedia_rtp"}, "rtp": {"format": fmt, "port_start": 31000, "port_end": 31199, **extra}}


def legs(rig):
    return rig.emu.rtp_legs


def capture_leg(rig, index=0):
    return [leg for leg in rig.emu.rtp_legs if leg.channel.id.endswith("-capture")][index]


def released(rig):
    return not rig.engine.deps.rtp_ports.in_use


@pytest.mark.parametrize("fmt", ["slin16", "ulaw", "slin"])
async def test_a_call_is_answered_and_its_reply_heard_over_rtp(tmp_path, fmt):
    await kit.reply_heard(tmp_path, legs, released, **rtp(fmt))


@pytest.mark.parametrize("mode", ["stream", "file"])
async def test_barge_in_over_rtp(tmp_path, mode):
    await kit.barge_in(tmp_path, mode, released, **rtp())


async def test_two_calls_at_once_hear_only_their_own_replies(tmp_path):
    await kit.two_calls_without_cross_talk(tmp_path, released, **rtp())


async def test_a_leg_whose_packets_stop_ends_the_call_and_frees_its_port(tmp_path):
    await kit.silent_leg_ends_the_call(tmp_path, capture_leg, released, **rtp())


async def test_wideband_caller_audio_reaches_the_provider_at_16k_and_replies_stream_back_on_rtp(tmp_path):
    fake = FakeRealtimeServer()
    fake.port = free_port()
    settings = rtp("slin16")
    settings["providers"] = {"local": {"url": fake.url, "health_url": None, "input_rate": 16000, "output_rate": 16000}}
    async with running_rig(tmp_path, fake=fake, playback={"downstream_mode": "stream"}, **settings) as rig:
        call = await kit.answered_call(rig)
        await call.say(tone(600, 1000) + b"\x00" * 320 * 40)
        await eventually(lambda: kit.tone_in_provider_input(fake, 600) > 2000, 8, "caller audio at the provider")
        assert fake.sessions[0].input_rate == 16000
        await eventually(lambda: kit.peak_tone_level(call.heard_pcm(), 600) > 2000, 8, "reply heard")
        playback = next(leg for leg in rig.emu.rtp_legs if leg.channel.id.endswith("-playback"))
        out = [p for p in playback.packets("out") if p.get("played")]
        assert out and {p["pt"] for p in out} == {9} and {p["len"] for p in out} == {160}  # G.722 at 16 kHz (cost/ C6)
        assert {p["rate"] for p in out} == {16000}
        seqs = [p["seq"] for p in out]
        assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:])), "one packet per 20 ms tick, none lost"
        assert capture_leg(rig).format == "slin16" and {p["pt"] for p in capture_leg(rig).packets("in")} == {118}
        await call.hangup()
        await kit.nothing_left(rig, released)


async def test_a_strangers_packets_and_garbage_never_reach_the_call(tmp_path):
    fake = FakeRealtimeServer()
    async with running_rig(tmp_path, fake=fake, **rtp()) as rig:
        call = await kit.answered_call(rig)
        port = rig.engine.deps.rtp_ports.in_use and next(iter(sorted(rig.engine.deps.rtp_ports.in_use)))
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger.bind(("127.0.0.1", 0))
        pcm = np.frombuffer(tone(1200, 2000, rate=16000, amplitude=12000), "<i2").astype(">i2").tobytes()
        for i in range(100):  # 2 s of a loud 1200 Hz tone, perfectly valid RTP, from the wrong source
            header = bytes([0x80, 118]) + i.to_bytes(2, "big") + (i * 320).to_bytes(4, "big") + b"\0\0\0\1"
            stranger.sendto(header + pcm[i * 640 : (i + 1) * 640], ("127.0.0.1", port))
            stranger.sendto(b"\xff\x00garbage", ("127.0.0.1", port))
            if i % 10 == 9:
                await anyio.sleep(0.01)  # the loopback socket buffer would drop a 200-datagram burst
        stranger.close()
        # Malformed packets from Asterisk's own address: dropped and counted, the leg goes on.
        leg = capture_leg(rig)
        for _ in range(5):
            leg.transport.sendto(b"\x80", ("127.0.0.1", port))
        await call.say(tone(600, 1000) + b"\x00" * 320 * 40)
        await eventually(lambda: kit.peak_tone_level(call.heard_pcm(), 600) > 2000, 8, "the real caller is answered")
        assert kit.tone_in_provider_input(fake, 1200) < 200, "nothing of the stranger reached the provider"
        engine_legs = [l.connection for c in rig.engine.registry.calls.values() for l in c.legs.values()]
        capture = next(l for l in engine_legs if l.port == port)
        assert capture.strangers > 100 and capture.malformed == 5  # UDP may lose a few on a loaded machine
        await call.hangup()
        await kit.nothing_left(rig, released)


async def test_stream_mode_falls_back_to_files_when_the_rtp_playback_leg_is_deleted(tmp_path):
    import httpx

    from engine_harness import ARI_PASSWORD

    async with running_rig(tmp_path, playback={"downstream_mode": "stream"}, **rtp()) as rig:
        call = await kit.answered_call(rig)
        leg_id = next(c for c in rig.emu.channels if c.endswith("-playback"))
        async with httpx.AsyncClient(auth=("ai-agent", ARI_PASSWORD)) as http:  # an admin kills the leg
            assert (await http.delete(f"{rig.emu.ari_url}ari/channels/{leg_id}")).status_code == 204
        await call.say(tone(600, 1000) + b"\x00" * 320 * 40)
        await eventually(lambda: [r for r in rig.emu.rest_log if r["path"].endswith("/play")], 8, "reply as a file")
        await eventually(lambda: kit.peak_tone_level(call.heard_pcm(), 600) > 2000, 8, "reply heard")
        await call.hangup()
        await kit.nothing_left(rig, released)
