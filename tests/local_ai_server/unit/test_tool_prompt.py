"""The sans-IO side of function calling: what the model is offered and how past calls read."""

from __future__ import annotations

from local_ai_server.speech.conversation import Conversation, Item
from local_ai_server.speech.tools import arguments_schema, decision_options, tool_instructions
from realtime_protocol import Tool

TRANSFER = Tool("transfer", "Transfer the caller.", {"type": "object", "required": ["target"], "properties": {
    "target": {"type": "string", "enum": ["operator", "sales"]}}})
LOOKUP = Tool("lookup", "Look up an order.", {"properties": {"order_number": {"type": "string"}}})


def test_the_decision_offers_say_and_the_tools_as_tool_choice_allows():
    assert decision_options([TRANSFER, LOOKUP], "auto") == ["say", "transfer", "lookup"]
    assert decision_options([TRANSFER, LOOKUP], "required") == ["transfer", "lookup"]
    assert decision_options([TRANSFER, LOOKUP], "none") == ["say"]
    assert decision_options([], "auto") == ["say"]


def test_the_instructions_list_each_tool_with_its_arguments_and_the_reply_form():
    text = tool_instructions([TRANSFER, LOOKUP])
    assert '- transfer: Transfer the caller. Arguments: {"target": "operator" | "sales"}' in text
    assert '- lookup: Look up an order. Arguments: {"order_number": "..."}' in text
    assert 'Start every reply with "say:"' in text
    assert "Use a tool now." in tool_instructions([TRANSFER], "required")


def test_a_schema_without_a_type_is_read_as_an_object():
    assert arguments_schema(LOOKUP) == {"type": "object", "properties": {"order_number": {"type": "string"}}}


def test_calls_and_outputs_are_dialogue_in_the_prompt_and_replies_carry_say():
    conversation = Conversation()
    conversation.add(Item("u1", "user", "Sales please."))
    conversation.add(Item("c1", "assistant", '{"target": "sales"}', kind="function_call", call_id="call_1",
                          name="transfer"))
    conversation.add(Item("o1", "tool", '{"transferred": false, "reason": "' + "x" * 50 + '"}',
                          kind="function_call_output", call_id="call_1", name="transfer"))
    conversation.add(Item("a1", "assistant", "Nobody answered."))
    conversation.add(Item("u2", "user", "OK."))
    messages = conversation.chat_messages("Be nice.", "", history_turns=4, tools_prompt="TOOLS",
                                          tool_output_chars=30)
    assert messages[0] == {"role": "system", "content": "Be nice.\nTOOLS"}
    assert messages[1:] == [
        {"role": "user", "content": "Sales please."},
        {"role": "assistant", "content": 'transfer: {"target": "sales"}'},
        {"role": "tool", "content": 'transfer result: {"transferred": false, "reason...'},
        {"role": "assistant", "content": "say: Nobody answered."},
        {"role": "user", "content": "OK."},
    ]
    assert conversation.calls_in_a_row() == 0
    assert conversation.call("call_1").name == "transfer"


def test_calls_in_a_row_counts_calls_since_the_last_message():
    conversation = Conversation(items=[Item("u", "user", "Bye")])
    for n in range(3):
        conversation.add(Item(f"c{n}", "assistant", "{}", kind="function_call", call_id=f"call_{n}", name="hangup"))
        conversation.add(Item(f"o{n}", "tool", "{}", kind="function_call_output", call_id=f"call_{n}", name="hangup"))
    assert conversation.calls_in_a_row() == 3


def test_a_reply_to_function_outputs_reads_them_in_its_system_prompt_without_the_calls():
    from local_ai_server.realtime.responses import results_apart

    conversation = Conversation()
    conversation.add(Item("a0", "assistant", "Hello, how can I help you?"))
    conversation.add(Item("u1", "user", "When are you open?"))
    conversation.add(Item("c1", "assistant", '{"query": "How can I help you?"}', kind="function_call",
                          call_id="call_1", name="knowledge_base"))
    conversation.add(Item("o1", "tool", '{"results": [{"document": "hours.md", "text": "9 to 5"}]}',
                          kind="function_call_output", call_id="call_1", name="knowledge_base"))
    rest, results = results_apart(conversation, 0)
    assert [i.id for i in rest.items] == ["a0", "u1"]
    assert results == 'knowledge_base result: {"results": [{"document": "hours.md", "text": "9 to 5"}]}'
    conversation.add(Item("a1", "assistant", "We are open 9 to 5."))
    conversation.add(Item("u2", "user", "Thanks."))
    assert results_apart(conversation, 0) == (conversation, "")  # past calls stay dialogue
