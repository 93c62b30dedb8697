"""Tools in calls through the Asterisk emulator and the local fake (scripted tool calls): a
lookup before the greeting, lookup and knowledge-base answers given to the model, and tools that
fail or run out of time: the call goes on and the model is told."""

import pytest

from engine_harness import eventually, peak_tone_level, running_rig, tone
from fakes.lookup_server import FakeLookupServer
from fakes.realtime_server import AFTER_TOOL_HZ, FakeRealtimeServer

pytestmark = pytest.mark.anyio


def persona(**extra) -> dict:
    return {"default": {"greeting": "Hello", "instructions": "Be brief.", **extra}}


async def call_and_ask(rig):
    call = await rig.emu.place_call(exten="5551234", stasis_args=["default"], caller_id=("Ada", "+4930555001"))
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
    await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
    await call.say(tone(600, 600) + b"\x00" * 320 * 40)
    return call


async def test_lookup_before_the_greeting_fills_the_callers_name(tmp_path):
    lookup = FakeLookupServer({"caller_name": "Ada", "tier": "gold"})
    async with lookup.running():
        personas = persona(
            greeting="Hello {caller_name}, how can I help?",
            instructions="The caller is a {tier} customer.",
            lookup={"url": lookup.url, "before_greeting": True},
        )
        fake = FakeRealtimeServer()
        async with running_rig(tmp_path, fake=fake, personas=personas) as rig:
            call = await rig.emu.place_call(exten="5551234", stasis_args=["default"], caller_id=("Ada", "+4930555001"))
            await call.wait_answered(5)
            await eventually(lambda: fake.sessions and fake.sessions[0].assistant_texts, 8, "greeting sent")
            assert fake.sessions[0].assistant_texts[0] == "Hello Ada, how can I help?"
            assert fake.sessions[0].instructions == "The caller is a gold customer."
            assert lookup.requests[0]["caller_number"] == "+4930555001"
            await call.hangup()


async def test_lookup_tool_gives_the_services_fields_to_the_model_which_goes_on_talking(tmp_path):
    lookup = FakeLookupServer({"order": "A17", "status": "shipped"})
    async with lookup.running():
        fake = FakeRealtimeServer(tool_turns=[("lookup", {"order_id": "A17"})])
        personas = persona(tools=["lookup"], lookup={"url": lookup.url})
        async with running_rig(tmp_path, fake=fake, personas=personas) as rig:
            call = await call_and_ask(rig)
            await eventually(lambda: fake.sessions[0].tool_outputs, 8, "tool output sent")
            assert fake.sessions[0].tool_outputs[0][1] == {"order": "A17", "status": "shipped"}
            assert lookup.requests[0] == {"caller_number": "+4930555001", "call_id": lookup.requests[0]["call_id"], "arguments": {"order_id": "A17"}}
            await eventually(lambda: peak_tone_level(call.heard_pcm()[-8000 * 3 :], AFTER_TOOL_HZ) > 2000, 8, "the model went on")
            await call.hangup()


async def test_a_tool_over_its_time_bound_is_abandoned_and_the_model_told(tmp_path):
    lookup = FakeLookupServer({"late": True}, delay_s=5.0)
    async with lookup.running():
        fake = FakeRealtimeServer(tool_turns=[("lookup", {})])
        personas = persona(tools=["lookup"], lookup={"url": lookup.url, "timeout_s": 10}, tool_timeout_s=0.5)
        async with running_rig(tmp_path, fake=fake, personas=personas) as rig:
            call = await call_and_ask(rig)
            await eventually(lambda: fake.sessions[0].tool_outputs, 8, "tool output sent")
            assert "did not answer within 0.5 s" in fake.sessions[0].tool_outputs[0][1]["error"]
            await eventually(lambda: peak_tone_level(call.heard_pcm()[-8000 * 3 :], AFTER_TOOL_HZ) > 2000, 8, "the call goes on")
            assert rig.emu.channels[call.channel_id].in_stasis
            await call.hangup()


async def test_a_failing_tool_is_reported_to_the_model_and_the_call_goes_on(tmp_path):
    lookup = FakeLookupServer({"error": "db down"}, status=500)
    async with lookup.running():
        fake = FakeRealtimeServer(tool_turns=[("lookup", {})])
        personas = persona(tools=["lookup"], lookup={"url": lookup.url})
        async with running_rig(tmp_path, fake=fake, personas=personas) as rig:
            call = await call_and_ask(rig)
            await eventually(lambda: fake.sessions[0].tool_outputs, 8, "tool output sent")
            assert fake.sessions[0].tool_outputs[0][1] == {"error": "the lookup service answered HTTP 500"}
            await eventually(lambda: peak_tone_level(call.heard_pcm()[-8000 * 3 :], AFTER_TOOL_HZ) > 2000, 8, "the call goes on")
            await call.hangup()


async def test_knowledge_base_answer_cites_the_document(tmp_path):
    docs = tmp_path / "kb"
    docs.mkdir()
    (docs / "hours.md").write_text("# Opening hours\n\nWe are open Monday to Friday, 9 to 17.\n")
    (docs / "returns.txt").write_text("Returns are accepted within 30 days with the receipt.\n")
    fake = FakeRealtimeServer(tool_turns=[("knowledge_base", {"query": "when are you open on friday"})])
    personas = persona(tools=["knowledge_base"], knowledge_base={"folder": str(docs)})
    async with running_rig(tmp_path, fake=fake, personas=personas) as rig:
        call = await call_and_ask(rig)
        await eventually(lambda: fake.sessions[0].tool_outputs, 8, "tool output sent")
        results = fake.sessions[0].tool_outputs[0][1]["results"]
        assert results[0]["document"] == "hours.md"
        assert "Monday to Friday" in results[0]["text"]
        await call.hangup()


async def test_knowledge_base_searches_the_callers_words_when_the_models_query_is_poor(tmp_path):
    # a small model searched for its own greeting; the caller's transcribed question finds the hours
    docs = tmp_path / "kb"
    docs.mkdir()
    (docs / "hours.md").write_text("# Opening hours\n\nWe are open Monday to Friday, 9 to 17.\n")
    (docs / "returns.txt").write_text("Returns are accepted within 30 days with the receipt.\n")
    fake = FakeRealtimeServer(tool_turns=[("knowledge_base", {"query": "How can I help you?"})],
                              transcripts=["When are you open?"])
    personas = persona(tools=["knowledge_base"], knowledge_base={"folder": str(docs)})
    async with running_rig(tmp_path, fake=fake, personas=personas) as rig:
        call = await call_and_ask(rig)
        await eventually(lambda: fake.sessions[0].tool_outputs, 8, "tool output sent")
        results = fake.sessions[0].tool_outputs[0][1]["results"]
        assert results[0] == {"document": "hours.md", "text": "Opening hours: We are open Monday to Friday, 9 to 17."}
        await call.hangup()
