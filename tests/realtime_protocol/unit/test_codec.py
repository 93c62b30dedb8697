"""The Realtime protocol package: every event round-trips, parsing is strict and bounded, and the
two connection ends keep their bit of state."""

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import realtime_protocol as rp

PCM8 = rp.AudioFormat("pcm", 8000)


def client(obj, fmt=PCM8, max_bytes=1 << 20):
    return rp.parse_client_event(obj if isinstance(obj, str | bytes) else json.dumps(obj), max_bytes=max_bytes,
                                 input_format=fmt)


def server(obj, max_bytes=1 << 20):
    return rp.parse_server_event(obj if isinstance(obj, str) else json.dumps(obj), max_bytes=max_bytes)


def error_of(fn, *args, **kwargs) -> rp.ProtocolError:
    with pytest.raises(rp.ProtocolError) as info:
        fn(*args, **kwargs)
    return info.value


CLIENT_SAMPLES = [
    rp.SessionUpdate(rp.SessionConfig(
        instructions="Be brief.", voice="alloy", input_format=rp.AudioFormat("pcmu", 8000),
        output_format=rp.AudioFormat("pcm", 24000), turn_detection=rp.TurnDetection(silence_duration_ms=500),
        transcription=rp.Transcription("gpt-4o-transcribe", "en"), max_output_tokens=None,
        tools=(rp.Tool("transfer", "Transfer the caller", {"type": "object", "properties": {}}),),
        tool_choice="auto")),
    rp.SessionUpdate(rp.SessionConfig(turn_detection=None)),
    rp.InputAudioBufferAppend(bytes(320), event_id="e1"),
    rp.InputAudioBufferClear(),
    rp.InputAudioBufferCommit(),
    rp.ResponseCreate(instructions="Say exactly: hello", max_output_tokens=50),
    rp.ResponseCreate(),
    rp.ResponseCancel("resp_1"),
    rp.ConversationItemCreate(rp.MessageItem.of_text("user", "the caller pressed 1")),
    rp.ConversationItemCreate(rp.FunctionCallOutputItem(None, "call_1", '{"ok": true}')),
    rp.ConversationItemTruncate("item_1", 1234),
]


@pytest.mark.parametrize("event", CLIENT_SAMPLES, ids=lambda e: e.type)
def test_client_events_round_trip(event):
    assert client(rp.serialize(event)) == event


SERVER_SAMPLES = [
    rp.InputAudioBufferSpeechStarted(120, "item_1"),
    rp.InputAudioBufferSpeechStopped(900, "item_1"),
    rp.InputAudioBufferCommitted("item_1", None),
    rp.InputAudioBufferCleared(),
    rp.ConversationItemAdded(rp.MessageItem.of_text("user", "hello", "item_1", audio=True), None),
    rp.ConversationItemDone(rp.FunctionCallItem("item_2", "call_1", "lookup", '{"q": 1}'), "item_1"),
    rp.InputAudioTranscriptionCompleted("item_1", "hello there"),
    rp.ConversationItemTruncated("item_3", 800),
    rp.ResponseOutputAudioDelta(response_id="resp_1", item_id="item_3", delta=b"\x01\x02"),
    rp.ResponseOutputAudioDone(response_id="resp_1", item_id="item_3"),
    rp.ResponseOutputAudioTranscriptDelta(response_id="resp_1", item_id="item_3", delta="Hi"),
    rp.ResponseOutputAudioTranscriptDone(response_id="resp_1", item_id="item_3", transcript="Hi there"),
    rp.ResponseFunctionCallArgumentsDelta("resp_1", "item_4", "call_1", '{"q"'),
    rp.ResponseFunctionCallArgumentsDone("resp_1", "item_4", "call_1", "lookup", '{"q": 1}'),
    rp.RateLimitsUpdated((rp.RateLimit("tokens", 1000, 990, 1.5),)),
    rp.XLocalTurnMetrics("item_1", "resp_1", "completed", True,
                         {name: 10 for name in rp.TURN_STAGES}),
    rp.XLocalResponseMetrics("resp_2", "completed", "response.create", 100, 300),
]


def same_but_event_id(a, b) -> bool:
    return a.to_wire() | {"event_id": None} == b.to_wire() | {"event_id": None}


@pytest.mark.parametrize("event", SERVER_SAMPLES, ids=lambda e: e.type)
def test_server_events_round_trip(event):
    assert same_but_event_id(server(rp.serialize(event)), event)


def test_session_and_response_events_round_trip():
    session = rp.SessionConfig(instructions="x", voice="v", input_format=PCM8, output_format=PCM8,
                               turn_detection=rp.TurnDetection(threshold=0.5), max_output_tokens=80)
    created = server(rp.serialize(rp.SessionCreated(session, "sess_1", "local-ai-server")))
    assert created.session == session and created.id == "sess_1"
    done = rp.ResponseDone(rp.ResponseInfo("resp_1", "cancelled", {"type": "cancelled", "reason": "turn_detected"},
                                           (rp.MessageItem.of_text("assistant", "Hel", "item_1", audio=True),),
                                           PCM8, "v"))
    parsed = server(rp.serialize(done))
    assert parsed.response.status == "cancelled" and parsed.response.output[0].text == "Hel"


def test_error_event_carries_the_client_event_id():
    exc = error_of(client, {"type": "session.fly", "event_id": "evt_1"})
    wire = rp.Error.of(exc).to_wire()
    assert wire["error"] == {"type": "invalid_request_error", "code": "unknown_event", "param": "type",
                             "event_id": "evt_1", "message": "unknown or unsupported event type 'session.fly'"}


@pytest.mark.parametrize("message, code", [
    (b"{}", "invalid_message"),
    ("not json", "invalid_json"),
    ('{"type": "response.create", "n": ' + "1" * 5000 + "}", "invalid_json"),  # over the 4,300 digit limit
    ("[1]", "invalid_event"),
    ('{"no": "type"}', "invalid_event"),
    ('{"type": "input_audio_buffer.append", "audio": "***"}', "invalid_audio"),
    ('{"type": "input_audio_buffer.append", "audio": "' + base64.b64encode(bytes(3)).decode() + '"}', "invalid_audio"),
    ('{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
     '"content": [{"type": "input_text", "text": "\\ud800"}]}}', "invalid_item"),  # a lone surrogate
    ('{"type": "conversation.item.create", "item": {"type": "message", "role": "robot", '
     '"content": [{"type": "input_text", "text": "x"}]}}', "invalid_item"),
    ('{"type": "session.update", "session": {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 11025}}}}}',
     "invalid_audio_format"),
    ('{"type": "session.update", "session": {"audio": {"input": {"turn_detection": {"silence_duration_ms": 5}}}}}',
     "invalid_session"),
    ('{"type": "session.update", "session": {"max_output_tokens": 0}}', "invalid_session"),
    ('{"type": "response.create", "response": "now"}', "invalid_response"),
])
def test_bad_client_messages_are_refused_with_a_code(message, code):
    assert error_of(client, message).code == code


def test_oversized_messages_and_texts_are_refused():
    assert error_of(client, {"type": "input_audio_buffer.clear", "pad": "x" * 200}, max_bytes=100).code == \
        "message_too_large"
    huge = {"type": "conversation.item.create",
            "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "x" * 40_000}]}}
    assert error_of(client, huge).code == "invalid_item"


@pytest.mark.parametrize("message", [
    {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": 5},
    {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": "%%"},
    {"type": "response.done", "response": "done"},
    {"type": "response.created", "response": {"id": ["x"]}},
    {"type": "x_local.turn.metrics", "item_id": "i", "status": "completed", "stt_ms": 10**40},
    {"type": "error", "error": "boom"},
])
def test_malformed_server_events_raise_protocol_errors_not_crashes(message):
    error_of(server, message)


def test_unknown_server_events_are_unhandled_not_errors():
    event = server({"type": "response.content_part.added", "part": {}})
    assert isinstance(event, rp.Unhandled) and event.type == "response.content_part.added"


def test_append_fast_path_matches_the_event():
    pcm = bytes(range(256)) * 2
    assert client(rp.append_message(pcm)) == rp.InputAudioBufferAppend(pcm)
    assert json.loads(rp.append_message(pcm)) == rp.InputAudioBufferAppend(pcm).to_wire()


def test_server_connection_follows_the_input_format():
    conn = rp.ServerConnection()
    odd = rp.serialize(rp.InputAudioBufferAppend(bytes(3)))
    assert error_of(conn.receive, odd).code == "invalid_audio"  # default 24 kHz pcm
    conn.receive(rp.serialize(rp.SessionUpdate(rp.SessionConfig(input_format=rp.AudioFormat("pcmu", 8000)))))
    assert conn.receive(odd).audio == bytes(3)


def test_client_connection_remembers_what_it_cancelled_bounded():
    conn = rp.ClientConnection()
    conn.receive(rp.serialize(rp.ResponseCreated(rp.ResponseInfo("resp_1"))))
    conn.send(rp.ResponseCancel())
    assert conn.is_cancelled("resp_1") and not conn.is_cancelled("resp_2")
    conn.receive(rp.serialize(rp.ResponseDone(rp.ResponseInfo("resp_1", "cancelled"))))
    assert not conn.is_cancelled("resp_1") and conn.current_response is None
    for n in range(500):
        conn.send(rp.ResponseCancel(f"resp_{n}"))
    assert len(conn._cancelled) == rp.ClientConnection.MAX_CANCELLED


def test_every_event_name_is_spelled_once():
    names = [cls.type for cls in (*rp.CLIENT_EVENTS.values(), *rp.SERVER_EVENTS.values())]
    assert len(names) == len(set(names))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_escapes_as_another_exception(text):
    for parse in (client, server):
        try:
            parse(text)
        except rp.ProtocolError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children,
                                                                                     max_size=4), max_leaves=20),
       st.sampled_from(sorted({*rp.CLIENT_EVENTS, *rp.SERVER_EVENTS})))
def test_random_fields_of_every_event_type_give_protocol_errors_only(value, kind):
    for key in ("session", "item", "response", "audio", "delta", "error", "rate_limits", "item_id", "response_id"):
        message = json.dumps({"type": kind, key: value})
        for parse in (client, server):
            try:
                parse(message)
            except rp.ProtocolError:
                pass
