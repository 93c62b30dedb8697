"""Function calling over a real WebSocket, with a fake LLM scripted to call tools: the session's
tools reach the model, a call goes out as the function-call events, its output comes back as an
item, and the next response speaks with the call and its output in the prompt."""

from __future__ import annotations

import json

import pytest
from local_ai_fakes import FakeLLM, fake_models, make_runtime, serve, silence, vowel
from local_ai_server.client import RealtimeClient, audio_of

pytestmark = pytest.mark.anyio

TRANSFER = {"type": "function", "name": "transfer", "description": "Transfer the caller to a person or department.",
            "parameters": {"type": "object", "required": ["target"], "properties": {
                "target": {"type": "string", "enum": ["operator", "sales"]}}}}
HANGUP = {"type": "function", "name": "hangup", "description": "End the call.",
          "parameters": {"type": "object", "properties": {"farewell": {"type": "string"}}}}
TOOLS = [TRANSFER, HANGUP]


async def with_tools(client: RealtimeClient, tools: list[dict] = TOOLS, tool_choice: str = "auto") -> dict:
    await client.update_session(rate=8000, instructions="You are the shop's phone agent.")
    mark = len(client.events)
    await client.send({"type": "session.update", "session": {"type": "realtime", "tools": tools,
                                                             "tool_choice": tool_choice}})
    return await client.wait_for("session.updated", after=mark)


async def say(client: RealtimeClient, text: str, **response) -> dict:
    """A caller's text turn and the response to it; returns response.done."""
    mark = len(client.events)
    await client.send({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
    await client.send({"type": "response.create", **({"response": response} if response else {})})
    return await client.wait_for("response.done", after=mark)


async def give_output(client: RealtimeClient, call_id: str, output: dict) -> dict:
    mark = len(client.events)
    await client.send({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": call_id, "output": json.dumps(output)}})
    await client.send({"type": "response.create"})
    return await client.wait_for("response.done", after=mark)


def kinds(events: list[dict]) -> list[str]:
    return [e["type"] for e in events if e["type"].startswith("response.")]


async def test_session_update_keeps_the_tools_and_the_prompt_lists_them():
    llm = FakeLLM(script=["We open at nine."])
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            updated = await with_tools(client, tool_choice="auto")
            await say(client, "When do you open?")
    assert [t["name"] for t in updated["session"]["tools"]] == ["transfer", "hangup"]
    assert updated["session"]["tool_choice"] == "auto"
    system = llm.prompts[0][0]["content"]
    assert "shop's phone agent" in system
    assert '- transfer: Transfer the caller to a person or department. Arguments: {"target": "operator" | "sales"}' in system
    assert "- hangup: End the call." in system
    assert llm.decisions == [["say", "transfer", "hangup"]]


async def test_a_call_is_sent_as_function_call_events_and_nothing_is_spoken():
    llm = FakeLLM(script=['transfer: {"target": "sales"}'])
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client)
            mark = len(client.events)
            done = await say(client, "Please transfer me to sales.")
    events = client.events[mark:]
    assert kinds(events) == ["response.created", "response.output_item.added",
                             *["response.function_call_arguments.delta"] * len(
                                 client.all("response.function_call_arguments.delta", mark)),
                             "response.function_call_arguments.done", "response.output_item.done", "response.done"]
    added = client.find("response.output_item.added", mark)["item"]
    assert added["type"] == "function_call" and added["name"] == "transfer" and added["status"] == "in_progress"
    deltas = client.all("response.function_call_arguments.delta", mark)
    args_done = client.find("response.function_call_arguments.done", mark)
    assert "".join(d["delta"] for d in deltas) == args_done["arguments"] == '{"target": "sales"}'
    assert {d["call_id"] for d in deltas} == {args_done["call_id"]} == {added["call_id"]}
    assert args_done["name"] == "transfer" and args_done["item_id"] == added["id"]
    assert done["response"]["status"] == "completed"
    [item] = done["response"]["output"]
    assert item == {**item, "type": "function_call", "name": "transfer", "call_id": added["call_id"],
                    "arguments": '{"target": "sales"}', "status": "completed"}
    assert audio_of(events) == b""
    assert llm.prefixes == ["transfer:"]


async def test_the_output_goes_back_to_the_model_and_the_reply_uses_it():
    llm = FakeLLM(script=['transfer: {"target": "operator"}', "Nobody answered, sorry. Can I help you myself?"])
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client)
            done = await say(client, "Can I speak to a human?")
            call_id = done["response"]["output"][0]["call_id"]
            mark = len(client.events)
            reply = await give_output(client, call_id, {"transferred": False, "reason": "no answer"})
    added = client.find("conversation.item.added", mark)["item"]
    assert added["type"] == "function_call_output" and added["call_id"] == call_id
    assert reply["response"]["status"] == "completed"
    assert reply["response"]["output"][0]["type"] == "message"
    spoken = "".join(e["delta"] for e in client.all("response.output_audio_transcript.delta", mark))
    assert spoken == "Nobody answered, sorry. Can I help you myself?"
    assert audio_of(client.events[mark:])
    # the reply reads the output at the end of its system prompt; the call is left out of its
    # dialogue (a small model repeated its own call instead of reading the result)
    prompt = llm.prompts[-1]
    assert prompt[0]["content"].endswith('\ntransfer result: {"transferred": false, "reason": "no answer"}')
    assert prompt[-1] == {"role": "user", "content": "Can I speak to a human?"}
    assert not any("transfer:" in m["content"] for m in prompt[1:])
    assert llm.prefixes[-1] == "say:"


async def test_no_tool_needed_speaks_as_before_after_the_decision():
    llm = FakeLLM(script=["We open at nine."])
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client)
            mark = len(client.events)
            done = await say(client, "When do you open?")
    order = kinds(client.events[mark:])
    assert order[:3] == ["response.created", "response.output_item.added", "response.output_audio_transcript.delta"]
    assert "response.function_call_arguments.done" not in order
    assert done["response"]["output"][0]["type"] == "message"
    assert done["response"]["output"][0]["content"][0]["transcript"] == "We open at nine."
    assert llm.prefixes == ["say:"]


async def test_a_spoken_turn_can_become_a_call():
    llm = FakeLLM(script=['hangup: {"farewell": "Goodbye!"}'])
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client)
            mark = len(client.events)
            await client.send_audio(vowel(1.2) + silence(0.8), realtime=False)
            done = await client.wait_for("response.done", after=mark)
    assert done["response"]["output"][0]["name"] == "hangup"
    assert json.loads(done["response"]["output"][0]["arguments"]) == {"farewell": "Goodbye!"}
    order = [e["type"] for e in client.events[mark:]]
    assert order.index("conversation.item.input_audio_transcription.completed") < order.index("response.created")


async def test_tool_choice_none_and_required_narrow_the_decision():
    llm = FakeLLM(script=["Hello there.", 'hangup: {}'])
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client, tool_choice="none")
            spoken = await say(client, "Hi")
            called = await say(client, "Bye", tool_choice="required")
    assert spoken["response"]["output"][0]["type"] == "message"
    assert called["response"]["output"][0]["name"] == "hangup"
    assert llm.decisions == [["transfer", "hangup"]]  # none: no decision at all; required: no "say"


async def test_arguments_that_break_the_schema_fail_the_response_not_the_session():
    llm = FakeLLM(script=['transfer: {"target": "the moon"}', "Sorry, how can I help?"])
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client)
            mark = len(client.events)
            failed = await say(client, "Transfer me to the moon.")
            again = await say(client, "Hello?")
    assert failed["response"]["status"] == "failed"
    assert client.find("response.function_call_arguments.done", mark) is None
    assert client.find("error", mark)["error"]["code"] == "response_failed"
    assert again["response"]["status"] == "completed"


async def test_function_output_for_an_unknown_call_is_refused():
    async with serve(make_runtime()) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client)
            mark = len(client.events)
            await client.send({"type": "conversation.item.create", "item": {
                "type": "function_call_output", "call_id": "call_nope", "output": "{}"}})
            error = await client.wait_for("error", after=mark)
    assert error["error"]["code"] == "invalid_item" and error["error"]["param"] == "item.call_id"


async def test_too_long_function_output_is_refused():
    llm = FakeLLM(script=['hangup: {}'])
    async with serve(make_runtime(fake_models(llm=llm), limits={"max_tool_output_chars": 100})) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client)
            done = await say(client, "Bye")
            mark = len(client.events)
            await client.send({"type": "conversation.item.create", "item": {
                "type": "function_call_output", "call_id": done["response"]["output"][0]["call_id"],
                "output": "x" * 101}})
            error = await client.wait_for("error", after=mark)
    assert error["error"]["code"] == "item_too_large"


async def test_after_max_calls_in_a_row_the_model_must_speak():
    llm = FakeLLM(script=['hangup: {}', 'hangup: {}', "I will stay on the line."])
    runtime = make_runtime(fake_models(llm=llm), llm={"max_tool_calls_in_a_row": 2})
    async with serve(runtime) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client)
            first = await say(client, "Bye")
            second = await give_output(client, first["response"]["output"][0]["call_id"], {"ok": False})
            third = await give_output(client, second["response"]["output"][0]["call_id"], {"ok": False})
    assert third["response"]["output"][0]["type"] == "message"
    assert llm.decisions == [["say", "transfer", "hangup"]] * 2  # the third response had no choice


async def test_a_model_that_cannot_take_tools_still_answers_in_speech():
    llm = FakeLLM(script=["We open at nine."], supports_tools=False)
    async with serve(make_runtime(fake_models(llm=llm))) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime") as client:
            await with_tools(client)
            done = await say(client, "When do you open?")
    assert done["response"]["output"][0]["content"][0]["transcript"] == "We open at nine."
    assert llm.decisions == [] and llm.prefixes == [""]
    assert "transfer" not in llm.prompts[0][0]["content"]
