"""Transfers through the Asterisk emulator (transfer facts, tests/asterisk_facts/more/ M33-M40):
the model (the fake provider, scripted) calls `transfer`; the engine moves the caller and leaves
nothing of its own behind."""

import anyio
import pytest

from engine_harness import eventually, peak_tone_level, running_rig, tone
from fakes.realtime_server import AFTER_TOOL_HZ, SAYING_HZ, FakeRealtimeServer
from records_kit import TOKEN, api, saved_record

pytestmark = pytest.mark.anyio

OPERATOR = {"from-internal": [("Answer", ""), ("Wait", "30"), ("Hangup", "")]}  # answers at once
NO_ANSWER = {"from-internal": [("Wait", "30"), ("Hangup", "")]}  # rings, never answers


def persona(mode: str = "blind", **target) -> dict:
    return {
        "default": {
            "greeting": "Hello",
            "instructions": "Be brief.",
            "tools": ["transfer", "hangup"],
            "transfer_targets": {
                "operator": {"context": "from-internal", "extension": "1001", "description": "a person", "mode": mode, **target}
            },
        }
    }


async def greeted_call(rig):
    call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
    await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
    return call


async def ask(call, freq: int = 600) -> None:
    """The caller says something ("let me talk to a person"): the fake turns it into the tool call."""
    await call.say(tone(freq, 600) + b"\x00" * 320 * 40)


async def test_let_me_talk_to_a_person_blind_transfer_caller_continues_in_target_and_nothing_of_ours_is_left(tmp_path):
    fake = FakeRealtimeServer(tool_turns=[("transfer", {"target": "operator"})])
    async with running_rig(tmp_path, fake=fake, contexts=OPERATOR, personas=persona(), api={"token": TOKEN}) as rig:
        call = await greeted_call(rig)
        assert fake.sessions[0].tools == ["transfer", "hangup"]  # offered in session.update
        await ask(call)
        caller = rig.emu.channels[call.channel_id]
        await eventually(lambda: not caller.in_stasis and caller.context == "from-internal", 10, "caller in the target")
        assert caller.exten == "1001"
        # The model's "one moment" was heard before the caller left.
        assert peak_tone_level(call.heard_pcm(), SAYING_HZ) > 2000
        await eventually(lambda: rig.engine_channels() == [] and rig.our_bridges() == [], 5, "our legs and bridges gone")
        await eventually(lambda: rig.engine.registry.calls == {}, 5, "call released")
        continues = [r for r in rig.emu.rest_log if r["path"].endswith("/continue")]
        assert len(continues) == 1 and continues[0]["status"] == 204
        assert call.channel_id in continues[0]["path"]
        assert not call.ended  # the caller is still on the line, with the operator
        async with api(rig) as http:
            record = await saved_record(http)
        assert (record["outcome"], record["transfer_target"]) == ("transferred", "operator")
        assert [(t["name"], t["arguments"]) for t in record["tool_calls"]] == [("transfer", {"target": "operator"})]
        await call.hangup()


async def test_transfer_announcement_is_said_before_the_caller_is_moved(tmp_path):
    fake = FakeRealtimeServer(tool_turns=[("transfer", {"target": "operator"})])
    personas = persona(announcement="Transferring you now.")
    async with running_rig(tmp_path, fake=fake, contexts=OPERATOR, personas=personas) as rig:
        call = await greeted_call(rig)
        await ask(call)
        caller = rig.emu.channels[call.channel_id]
        await eventually(lambda: not caller.in_stasis, 15, "caller transferred")
        assert fake.sessions[0].assistant_texts[-1] == "Transferring you now."
        await eventually(lambda: rig.engine_channels() == [] and rig.our_bridges() == [], 5, "nothing left")
        await call.hangup()


async def test_attended_transfer_answered_bridges_caller_and_target_then_cleans_up_when_caller_hangs_up(tmp_path):
    fake = FakeRealtimeServer(tool_turns=[("transfer", {"target": "operator"})])
    async with running_rig(tmp_path, fake=fake, contexts=OPERATOR, personas=persona("attended")) as rig:
        call = await greeted_call(rig)
        await ask(call)
        operator = f"ai-agent-{next(iter(rig.engine.registry.calls))}-transfer"
        bridge_of = lambda cid: next((b for b in rig.emu.bridges.values() if any(m.id == cid for m in b.members)), None)  # noqa: E731

        def bridged_alone() -> bool:
            bridge = bridge_of(call.channel_id)
            return bridge is not None and {m.id for m in bridge.members} == {call.channel_id, operator}

        await eventually(bridged_alone, 10, "caller bridged with the operator only")
        await eventually(lambda: len(rig.emu.bridges) == 1, 5, "capture bridge destroyed")
        assert rig.emu.channels[call.channel_id].in_stasis  # still ours: we own the bridge (M40)
        assert fake.sessions[0].tool_outputs == []  # the model was done: nothing more to say
        await call.hangup()
        await eventually(lambda: rig.engine_channels() == [] and rig.our_bridges() == [], 5, "operator leg and bridge gone")
        await eventually(lambda: rig.engine.registry.calls == {}, 5, "call released")


async def test_attended_transfer_not_answered_brings_the_caller_back_to_the_agent(tmp_path):
    fake = FakeRealtimeServer(tool_turns=[("transfer", {"target": "operator"})])
    personas = persona("attended", answer_timeout_s=1.0)
    async with running_rig(tmp_path, fake=fake, contexts=NO_ANSWER, personas=personas) as rig:
        call = await greeted_call(rig)
        await ask(call)
        await eventually(lambda: fake.sessions[0].tool_outputs, 10, "the model told the outcome")
        (call_id, output), = fake.sessions[0].tool_outputs
        assert output["transferred"] is False and "did not answer" in output["reason"]
        # The model goes on talking (its explanation), and the target's leg is gone.
        await eventually(lambda: peak_tone_level(call.heard_pcm()[-8000 * 4 :], AFTER_TOOL_HZ) > 2000, 8, "agent talks again")
        assert not any(cid.endswith("-transfer") or cid.endswith("-transfer;2") for cid in rig.emu.channels)
        assert rig.emu.channels[call.channel_id].in_stasis
        await call.hangup()
        await eventually(lambda: rig.engine_channels() == [] and rig.our_bridges() == [], 5, "torn down")


async def test_hangup_tool_says_the_farewell_then_ends_the_call(tmp_path):
    fake = FakeRealtimeServer(tool_turns=[("hangup", {"farewell": "Goodbye and thanks."})])
    async with running_rig(tmp_path, fake=fake, contexts=OPERATOR, personas=persona()) as rig:
        call = await greeted_call(rig)
        heard_before = len(call.heard_pcm())
        await ask(call)
        with anyio.fail_after(15):
            await call.wait_ended(15)
        assert fake.sessions[0].assistant_texts[-1] == "Goodbye and thanks."
        # The farewell (the fake speaks a said text as a 440 Hz tone) was heard whole before the end.
        after = call.heard_pcm()[heard_before:]
        assert peak_tone_level(after, 440) > 2000
        await eventually(lambda: rig.engine_channels() == [] and rig.our_bridges() == [], 5, "torn down")


async def test_attended_transfer_in_stream_mode_ends_for_the_caller_when_the_target_hangs_up(tmp_path):
    fake = FakeRealtimeServer(tool_turns=[("transfer", {"target": "operator"})])
    short_call = {"from-internal": [("Answer", ""), ("Wait", "1.5"), ("Hangup", "")]}  # the person hangs up after a while
    async with running_rig(
        tmp_path, fake=fake, contexts=short_call, personas=persona("attended"), playback={"downstream_mode": "stream"}
    ) as rig:
        call = await greeted_call(rig)
        await ask(call)
        def bridged() -> bool:
            return any({m.id for m in b.members} == {call.channel_id, *[c for c in rig.emu.channels if c.endswith("-transfer")]}
                       and len(b.members) == 2 for b in rig.emu.bridges.values())

        await eventually(bridged, 10, "caller bridged with the target alone (the playback leg gone too)")
        await call.wait_ended(10)  # the target hung up: the engine hangs up the caller
        await eventually(lambda: rig.engine_channels() == [] and rig.our_bridges() == [], 5, "nothing left")
        await eventually(lambda: rig.engine.registry.calls == {}, 5, "call released")
