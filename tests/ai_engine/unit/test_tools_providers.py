"""Tools in each provider's own form, sans-IO: offered at session set-up, the model's call read
as a ToolCall, the result written back as the vendor's reference has it."""

import dataclasses
import json

import realtime_protocol as rp

from ai_engine.providers import base
from ai_engine.providers.deepgram import protocol as dg
from ai_engine.providers.gemini import protocol as gm
from ai_engine.providers.openai_realtime import protocol as oa
from ai_engine.providers.realtime_tools import tool_config, tool_result, user_text
from ai_engine.tools.base import ToolSpec

SPEC = ToolSpec("lookup", "Look the caller up.", {"type": "object", "properties": {"order": {"type": "string"}}})


def test_realtime_session_offers_the_tools_and_takes_a_function_call_output_back():
    config = rp.SessionConfig(instructions="x", **tool_config((SPEC,)))
    wire = config.to_wire()
    assert wire["tools"] == [{"type": "function", "name": "lookup", "description": "Look the caller up.",
                              "parameters": SPEC.parameters}] and wire["tool_choice"] == "auto"
    assert "tools" not in rp.SessionConfig(instructions="x", **tool_config(())).to_wire()
    item, create = (e.to_wire() for e in tool_result("call_1", '{"ok": true}', respond=True))
    assert item == {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"ok": true}'}}
    assert create == {"type": "response.create"}
    assert len(tool_result("call_1", "{}", respond=False)) == 1
    assert user_text("(The caller pressed 1.)")[0].to_wire()["item"]["content"][0] == {"type": "input_text", "text": "(The caller pressed 1.)"}


def test_openai_reads_the_models_call_and_writes_the_result():
    from test_provider_openai_realtime import config

    update = json.loads(oa.session_update(dataclasses.replace(config(), tools=(SPEC,))))
    assert update["session"]["tools"][0]["name"] == "lookup"
    proto = oa.RealtimeProtocol("pcmu")
    done = {"type": "response.function_call_arguments.done", "event_id": "e1", "response_id": "resp_1", "item_id": "item_1",
            "output_index": 0, "call_id": "call_9", "name": "lookup", "arguments": '{"order": "A1"}'}
    assert proto.receive(json.dumps(done)) == [base.ToolCall("call_9", "lookup", '{"order": "A1"}')]
    sent = [json.loads(m) for m in proto.tool_result("call_9", '{"status": "shipped"}', respond=True)]
    assert [m["type"] for m in sent] == ["conversation.item.create", "response.create"]
    assert sent[0]["item"] == {"type": "function_call_output", "call_id": "call_9", "output": '{"status": "shipped"}'}


def test_deepgram_offers_think_functions_and_answers_client_side_requests_only():
    from test_provider_deepgram import CONFIG

    settings = json.loads(dg.settings_message(dataclasses.replace(CONFIG, tools=(SPEC,)), None))
    assert settings["agent"]["think"]["functions"] == [{"name": "lookup", "description": "Look the caller up.", "parameters": SPEC.parameters}]
    assert "functions" not in json.loads(dg.settings_message(CONFIG, None))["agent"]["think"]
    request = {"type": "FunctionCallRequest", "functions": [
        {"id": "fc_1", "name": "lookup", "arguments": '{"order": "A1"}', "client_side": True},
        {"id": "fc_2", "name": "web_search", "arguments": "{}", "client_side": False},
    ]}
    assert dg.AgentProtocol("mulaw", 8000).receive_text(json.dumps(request)) == [base.ToolCall("fc_1", "lookup", '{"order": "A1"}')]
    assert json.loads(dg.function_call_response("fc_1", "lookup", "{}")) == {"type": "FunctionCallResponse", "id": "fc_1", "name": "lookup", "content": "{}"}
    assert json.loads(dg.inject_agent_message("Bye.")) == {"type": "InjectAgentMessage", "message": "Bye."}


def test_gemini_declares_functions_reads_tool_calls_and_answers_with_an_object():
    from test_provider_gemini import CONFIG

    setup = json.loads(gm.setup_message(dataclasses.replace(CONFIG, tools=(SPEC,))))["setup"]
    assert setup["tools"] == [{"functionDeclarations": [{"name": "lookup", "description": "Look the caller up.", "parameters": SPEC.parameters}]}]
    call = {"toolCall": {"functionCalls": [{"id": "fn-1", "name": "lookup", "args": {"order": "A1"}}]}}
    assert gm.LiveProtocol().receive(json.dumps(call)) == [base.ToolCall("fn-1", "lookup", '{"order": "A1"}')]
    answer = json.loads(gm.tool_response_message("fn-1", "lookup", '"plain text"'))
    assert answer == {"toolResponse": {"functionResponses": [{"id": "fn-1", "name": "lookup", "response": {"output": "plain text"}}]}}
