"""A persona's `tool_choice` reaches the provider: the Realtime `session.update` (local-ai-server
and OpenAI), and under `required` the response after a tool result lets the model speak."""
import dataclasses
import json

import pytest
from pydantic import ValidationError

from ai_engine.config import PersonaSettings, ProviderSettings
from ai_engine.providers import base
from ai_engine.providers.openai_realtime import protocol as oa
from ai_engine.providers.realtime import RealtimeProvider
from ai_engine.tools.base import ToolSpec
from fakes.realtime_server import FakeRealtimeServer

KB = ToolSpec("knowledge_base", "Search the documents.", {"type": "object", "properties": {"query": {"type": "string"}}})


def test_a_persona_says_auto_unless_told_and_refuses_unknown_choices():
    assert PersonaSettings().tool_choice == "auto"
    assert PersonaSettings(tools=["knowledge_base"], tool_choice="required").tool_choice == "required"
    with pytest.raises(ValidationError):
        PersonaSettings(tool_choice="always")


@pytest.mark.anyio
@pytest.mark.parametrize("choice", ["required", "none", "auto"])
async def test_the_personas_tool_choice_reaches_session_update_and_shapes_the_reply_after_a_tool(choice):
    persona = PersonaSettings(tools=["knowledge_base"], tool_choice=choice)
    options = base.SessionOptions("Answer from the documents.", None, "c1", (KB,), persona.tool_choice)
    async with FakeRealtimeServer().running() as fake:
        provider = RealtimeProvider("local", ProviderSettings(url=fake.url, health_url=None))
        async with provider.session(options) as session:
            await session.send_tool_result("call_1", "knowledge_base", '{"passages": []}', respond=True)
            await session.say("bye")  # the server saw everything before this once it answers it
            async for ev in session.events():
                if isinstance(ev, base.ResponseDone):
                    break
    received = fake.sessions[0].received
    update = received[0]
    assert update["type"] == "session.update" and update["session"]["tool_choice"] == choice
    assert [t["name"] for t in update["session"]["tools"]] == ["knowledge_base"]
    create = next(m for m in received if m["type"] == "response.create")
    # required: the caller's turn must call a tool; the response to its result may speak
    assert create.get("response", {}).get("tool_choice") == ("auto" if choice == "required" else None)


def test_openai_session_update_carries_the_personas_tool_choice():
    from test_provider_openai_realtime import config

    update = json.loads(oa.session_update(dataclasses.replace(config(), tools=(KB,), tool_choice="required")))
    assert update["session"]["tool_choice"] == "required"
    sent = [json.loads(m) for m in oa.RealtimeProtocol("pcmu").tool_result("call_9", "{}", True, "required")]
    assert sent[1] == {"type": "response.create", "response": {"tool_choice": "auto"}}
