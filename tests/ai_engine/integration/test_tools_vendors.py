"""Tools through each cloud provider and its strict vendor fake (function calling as each
vendor's reference has it): the tools are offered in the vendor's own form, the model's call is
run by the engine, the result goes back and the model goes on talking; a key press reaches the
model as text; the hang-up tool ends the call after the farewell."""

import pytest

from engine_harness import eventually, peak_tone_level, running_rig, tone
from fakes.deepgram_agent import FakeDeepgramAgent
from fakes.gemini_live import FakeGeminiLive
from fakes.lookup_server import FakeLookupServer
from fakes.openai_realtime import FakeOpenAIRealtime
from fakes.vendor_kit import AFTER_TOOL_HZ, GREETING_HZ, USER_TEXT_HZ

pytestmark = pytest.mark.anyio

FAKES = {"openai_realtime": FakeOpenAIRealtime, "deepgram_agent": FakeDeepgramAgent, "gemini_live": FakeGeminiLive}


@pytest.fixture(params=sorted(FAKES))
def kind(request) -> str:
    return request.param


def overrides(kind: str, fake, **persona) -> dict:
    return {
        "providers": {"cloud": {"kind": kind, "url": fake.url, "api_key_env": "", "api_key": fake.key}},
        "personas": {"default": {"provider": "cloud", "greeting": "Hello", "instructions": "Be brief.", **persona}},
    }


async def greeted(rig):
    call = await rig.emu.place_call(exten="5551234", stasis_args=["default"], caller_id=("Ada", "+4930555001"))
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
    await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
    return call


async def test_a_lookup_call_is_answered_and_the_model_goes_on(tmp_path, kind):
    lookup = FakeLookupServer({"caller_name": "Ada", "orders": 2})
    async with lookup.running():
        fake = FAKES[kind](tool_turns=[("lookup", {"topic": "orders"})])
        persona = {"tools": ["lookup", "hangup"], "lookup": {"url": lookup.url}}
        async with running_rig(tmp_path, fake=fake, **overrides(kind, fake, **persona)) as rig:
            call = await greeted(rig)
            assert sorted(fake.sessions[0].tools) == ["hangup", "lookup"]
            await call.say(tone(600, 600) + b"\x00" * 320 * 40)
            await eventually(lambda: fake.sessions[0].tool_outputs, 8, "the result went back")
            assert fake.sessions[0].tool_outputs[0][1] == {"caller_name": "Ada", "orders": 2}
            assert lookup.requests[0]["arguments"] == {"topic": "orders"}
            await eventually(lambda: peak_tone_level(call.heard_pcm()[-8000 * 3 :], AFTER_TOOL_HZ) > 2000, 8, "the model went on")
            assert not any(s.errors for s in fake.sessions), [s.errors for s in fake.sessions]
            await call.hangup()


async def test_a_key_press_reaches_the_model_and_it_answers(tmp_path, kind):
    fake = FAKES[kind]()
    async with running_rig(tmp_path, fake=fake, **overrides(kind, fake, dtmf_interdigit_s=0.3)) as rig:
        call = await greeted(rig)
        await call.send_dtmf("3")
        await eventually(lambda: fake.sessions[0].user_texts, 5, "the key told to the model")
        assert "pressed 3" in fake.sessions[0].user_texts[0]
        await eventually(lambda: peak_tone_level(call.heard_pcm()[-8000 * 3 :], USER_TEXT_HZ) > 2000, 8, "the model answered")
        assert not any(s.errors for s in fake.sessions), [s.errors for s in fake.sessions]
        await call.hangup()


async def test_the_hangup_tool_says_the_farewell_then_ends_the_call(tmp_path, kind):
    fake = FAKES[kind](tool_turns=[("hangup", {"farewell": "Goodbye, Ada."})])
    async with running_rig(tmp_path, fake=fake, **overrides(kind, fake, tools=["hangup"])) as rig:
        call = await greeted(rig)
        await call.say(tone(600, 600) + b"\x00" * 320 * 40)
        await call.wait_ended(15)
        assert fake.sessions[0].agent_texts[-1] == "Goodbye, Ada."
        await eventually(lambda: rig.engine_channels() == [] and rig.our_bridges() == [], 5, "torn down")
