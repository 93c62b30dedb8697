"""Gemini Live's goAway: the engine resumes on a new connection before the server drops the old
one, and the caller hears nothing of it (no hold prompt) and is still answered."""
import anyio
import numpy as np
import pytest

from engine_harness import eventually, peak_tone_level, running_rig, tone
from fakes.gemini_live import FakeGeminiLive
from fakes.vendor_kit import GREETING_HZ

pytestmark = pytest.mark.anyio


def heard_since(call, t0):
    return call.heard_pcm()[max(0, int((t0 - call.t_answered) * 8000)) * 2 :]


async def test_go_away_resumes_on_a_new_connection_without_a_hold_prompt(tmp_path):
    fake = FakeGeminiLive()
    providers = {"gemini": {"kind": "gemini_live", "url": fake.url, "api_key": fake.key, "api_key_env": ""}}
    personas = {"default": {"provider": "gemini", "greeting": "Hello", "instructions": "Be brief."}}
    async with running_rig(tmp_path, fake=fake, providers=providers, personas=personas) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
        await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
        handle = next(m["sessionResumptionUpdate"]["newHandle"] for m in fake.sessions[0].sent if "sessionResumptionUpdate" in m)
        t_away = anyio.current_time()
        await fake.go_away(0)
        await eventually(lambda: len(fake.sessions) == 2 and fake.sessions[1].setup is not None, 5, "a second connection")
        assert fake.sessions[1].resumed_with == handle, "the new connection resumes the session"
        await eventually(lambda: fake.connections[0].state.name == "CLOSED", 5, "the old connection closed by us")
        quiet = heard_since(call, t_away)
        assert max(np.abs(np.frombuffer(quiet, "<i2")), default=0) < 1000, "no hold prompt"
        t_ask = anyio.current_time()
        await call.say(tone(600, 600) + b"\x00" * 320 * 40)
        await eventually(lambda: peak_tone_level(heard_since(call, t_ask), 600) > 2000, 8, "answered on the new connection")
        assert fake.sessions[1].audio_in > 0 and not fake.sessions[1].errors
        await call.hangup()
