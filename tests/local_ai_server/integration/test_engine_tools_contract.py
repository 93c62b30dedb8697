"""Contract for function calling: the engine's Realtime client (ai_engine.providers.realtime, with
its tools offered as the engine offers them) against the real local-ai-server session (real
WebSocket, a fake LLM scripted to call). The engine sees a ToolCall, answers it with
send_tool_result, and hears the reply that uses the result."""

import json

import anyio
import pytest
from local_ai_fakes import FakeLLM, fake_models, make_runtime, serve

from ai_engine.config import ProviderSettings
from ai_engine.providers import base
from ai_engine.providers.realtime import RealtimeProvider
from ai_engine.tools.base import ToolSpec

pytestmark = pytest.mark.anyio
TRANSFER = ToolSpec("transfer", "Transfer the caller.", {
    "type": "object", "required": ["target"],
    "properties": {"target": {"type": "string", "enum": ["operator", "sales"]}}})
OPTIONS = base.SessionOptions(instructions="You are the store's phone assistant.", voice=None, call_id="call-7",
                              tools=(TRANSFER,))


async def collect_until(session, last: type, limit_s: float = 20.0) -> list:
    events = []
    with anyio.fail_after(limit_s):
        async for event in session.events():
            events.append(event)
            if isinstance(event, last):
                return events
    return events


async def test_the_engine_gets_the_call_answers_it_and_hears_the_reply():
    llm = FakeLLM(script=['transfer: {"target": "sales"}', "Sales is busy, can I take a message?"])
    runtime = make_runtime(fake_models(llm=llm), server={"allow_no_auth": True})
    async with serve(runtime) as host:
        provider = RealtimeProvider("local", ProviderSettings(url=f"ws://{host}/v1/realtime", health_url=None))
        async with provider.session(OPTIONS) as session:
            await session.send_user_text("Please transfer me to sales.")
            [call] = [e for e in await collect_until(session, base.ToolCall) if isinstance(e, base.ToolCall)]
            assert call.name == "transfer" and json.loads(call.arguments) == {"target": "sales"}
            await collect_until(session, base.ResponseDone)  # the call's response ends
            await session.send_tool_result(call.call_id, call.name, json.dumps({"transferred": False}), respond=True)
            reply = await collect_until(session, base.ResponseDone)
    assert "".join(e.text for e in reply if isinstance(e, base.AgentText)) == "Sales is busy, can I take a message?"
    assert [e.status for e in reply if isinstance(e, base.ResponseDone)] == ["completed"]
    assert '- transfer: Transfer the caller.' in llm.prompts[0][0]["content"]
    assert llm.prompts[-1][0]["content"].endswith('\ntransfer result: {"transferred": false}')
    assert llm.prompts[-1][-1] == {"role": "user", "content": "Please transfer me to sales."}
