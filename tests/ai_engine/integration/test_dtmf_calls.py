"""The caller's keys through the Asterisk emulator: ChannelDtmfReceived on the caller (the snoop
path carries no DTMF, facts more/ M41-M42) goes to the persona's key map or to the model."""

import anyio
import pytest

from engine_harness import eventually, peak_tone_level, running_rig
from fakes.realtime_server import USER_TEXT_HZ, FakeRealtimeServer

pytestmark = pytest.mark.anyio

OPERATOR = {"from-internal": [("Answer", ""), ("Wait", "30"), ("Hangup", "")]}


def persona(**extra) -> dict:
    return {
        "default": {
            "greeting": "Hello",
            "instructions": "Be brief.",
            "transfer_targets": {"operator": {"context": "from-internal", "extension": "1001"}},
            "dtmf_keys": {"0": "transfer operator", "#": "hangup", "42": "say The caller wants the opening hours."},
            "dtmf_interdigit_s": 0.4,
            **extra,
        }
    }


async def greeted_call(rig):
    call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
    await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
    return call


async def test_pressing_0_transfers_the_caller_to_the_operator(tmp_path):
    async with running_rig(tmp_path, contexts=OPERATOR, personas=persona()) as rig:
        call = await greeted_call(rig)
        await call.send_dtmf("0")
        caller = rig.emu.channels[call.channel_id]
        await eventually(lambda: not caller.in_stasis and caller.context == "from-internal", 5, "caller with the operator")
        await eventually(lambda: rig.engine_channels() == [] and rig.our_bridges() == [], 5, "nothing of ours left")
        await call.hangup()


async def test_unmapped_digits_reach_the_model_as_text_and_it_answers(tmp_path):
    fake = FakeRealtimeServer()
    async with running_rig(tmp_path, fake=fake, personas=persona()) as rig:
        call = await greeted_call(rig)
        await call.send_dtmf("17")
        await eventually(lambda: fake.sessions[0].user_texts, 5, "digits told to the model")
        assert fake.sessions[0].user_texts == ["(The caller pressed 1 7 on the phone keypad.)"]
        await eventually(lambda: peak_tone_level(call.heard_pcm()[-8000 * 3 :], USER_TEXT_HZ) > 2000, 8, "the model answered")
        (live,) = rig.engine.registry.calls.values()  # the keys are in the call's record, in order
        assert [t["text"] for t in live.recorder.transcript if t["role"] == "dtmf"] == ["1", "7"]
        await call.hangup()


async def test_a_multi_digit_key_sends_its_text_to_the_model(tmp_path):
    fake = FakeRealtimeServer()
    async with running_rig(tmp_path, fake=fake, personas=persona()) as rig:
        call = await greeted_call(rig)
        await call.send_dtmf("42")
        await eventually(lambda: fake.sessions[0].user_texts, 5, "key text told to the model")
        assert fake.sessions[0].user_texts == ["The caller wants the opening hours."]
        await call.hangup()


async def test_hash_hangs_up_after_the_farewell(tmp_path):
    fake = FakeRealtimeServer()
    async with running_rig(tmp_path, fake=fake, personas=persona(farewell="Bye now.")) as rig:
        call = await greeted_call(rig)
        await call.send_dtmf("#")
        await call.wait_ended(10)
        assert fake.sessions[0].assistant_texts[-1] == "Bye now."
        await eventually(lambda: rig.engine_channels() == [] and rig.our_bridges() == [], 5, "torn down")


async def test_a_key_press_stops_the_agent_like_speech(tmp_path):
    fake = FakeRealtimeServer(greeting_ms=6000)
    async with running_rig(tmp_path, fake=fake, personas=persona()) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: rig.emu.playbacks, 8, "greeting playing")
        await call.send_dtmf("5")
        await eventually(lambda: not rig.emu.playbacks, 3, "greeting stopped by the key press")
        stopped_at = len(call.heard_pcm())
        await anyio.sleep(0.6)
        assert peak_tone_level(call.heard_pcm()[stopped_at:], 440) < 500  # nothing more of the greeting
        await call.hangup()
