"""Wideband on the AudioSocket path: snoop + externalMedia AudioSocket in slin16 (FACT 43: kind 0x12,
640-byte frames) brings the caller to a 16 kHz provider without an 8 kHz step."""
import pytest

import transport_scenarios as kit
from engine_harness import eventually, free_port, running_rig, tone
from fakes.realtime_server import FakeRealtimeServer

pytestmark = pytest.mark.anyio


async def test_snoop_externalmedia_slin16_capture_reaches_the_provider_at_16k(tmp_path):
    fake = FakeRealtimeServer()
    fake.port = free_port()
    providers = {"local": {"url": fake.url, "health_url": None, "input_rate": 16000, "output_rate": 16000}}
    calls = {"audio_transport": "snoop_externalmedia", "capture_format": "slin16"}
    async with running_rig(tmp_path, fake=fake, calls=calls, providers=providers) as rig:
        call = await kit.answered_call(rig)
        await call.say(tone(600, 1000) + b"\x00" * 320 * 40)
        await eventually(lambda: kit.tone_in_provider_input(fake, 600) > 2000, 8, "caller audio at the provider")
        capture = next(c for c in rig.emu.audiosocket_log if c.channel_id.endswith("-capture"))
        assert set(capture.kinds("in")) - {0x01} == {0x12}  # 16 kHz frames only
        assert {f["len"] for f in capture.frames if f["dir"] == "in" and f["kind"] == 0x12} == {640}
        await eventually(lambda: kit.peak_tone_level(call.heard_pcm(), 600) > 2000, 8, "reply heard")
        await call.hangup()
        await kit.nothing_left(rig, lambda rig: True)
