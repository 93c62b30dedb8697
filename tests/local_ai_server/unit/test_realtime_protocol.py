"""The client events the server reads, as `realtime_protocol` parses them (the parsing moved there
from local_ai_server/protocol.py; these are the server's cases, in the package's names)."""

import base64
import json

import pytest
from realtime_protocol import (
    UNSET,
    AudioFormat,
    ConversationItemCreate,
    Error,
    InputAudioBufferAppend,
    ProtocolError,
    ResponseCreate,
    SessionUpdate,
    parse_client_event,
)

PCM8 = AudioFormat("pcm", 8000)
PCMU = AudioFormat("pcmu", 8000)


def parse(obj, fmt=PCM8, max_bytes=1 << 20):
    return parse_client_event(json.dumps(obj) if not isinstance(obj, str) else obj, max_bytes=max_bytes,
                              input_format=fmt)


def test_engine_session_update_is_understood():
    event = parse({"type": "session.update", "session": {
        "type": "realtime", "instructions": "Be brief.",
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 8000},
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}},
                  "output": {"format": {"type": "audio/pcm", "rate": 8000}, "voice": "alloy"}}}})
    assert isinstance(event, SessionUpdate)
    patch = event.session
    assert patch.instructions == "Be brief." and patch.voice == "alloy"
    assert patch.input_format == AudioFormat("pcm", 8000) == patch.output_format
    assert patch.turn_detection.silence_duration_ms == 500
    assert patch.turn_detection.create_response and patch.turn_detection.interrupt_response


def test_partial_session_update_leaves_other_fields_unset():
    patch = parse({"type": "session.update", "session": {"instructions": "x"}}).session
    assert patch.voice is UNSET and patch.input_format is UNSET and patch.turn_detection is UNSET


def test_turn_detection_null_disables_vad():
    patch = parse({"type": "session.update", "session": {"audio": {"input": {"turn_detection": None}}}}).session
    assert patch.turn_detection is None


def test_append_decodes_base64_for_pcm_and_pcmu():
    audio = base64.b64encode(bytes(320)).decode()
    assert parse({"type": "input_audio_buffer.append", "audio": audio}) == InputAudioBufferAppend(audio=bytes(320))
    odd = base64.b64encode(bytes(161)).decode()
    assert parse({"type": "input_audio_buffer.append", "audio": odd}, fmt=PCMU).audio == bytes(161)
    with pytest.raises(ProtocolError) as info:
        parse({"type": "input_audio_buffer.append", "audio": odd}, fmt=PCM8)
    assert info.value.code == "invalid_audio"


def test_response_create_with_and_without_instructions():
    assert parse({"type": "response.create"}) == ResponseCreate()
    event = parse({"type": "response.create", "event_id": "e1", "response": {"instructions": "Greet."}})
    assert event.instructions == "Greet." and event.event_id == "e1"


def test_item_create_takes_text_parts():
    event = parse({"type": "conversation.item.create", "item": {"type": "message", "role": "assistant",
                                                                 "content": [{"type": "output_text", "text": "Hi!"}]}})
    assert isinstance(event, ConversationItemCreate) and event.item.role == "assistant" and event.item.text == "Hi!"


@pytest.mark.parametrize("message,code,param", [
    ("{oops", "invalid_json", None),
    ("42", "invalid_event", None),
    ({"type": 5}, "invalid_event", "type"),
    ({"type": "response.teleport"}, "unknown_event", "type"),
    ({"type": "input_audio_buffer.append", "audio": "*&^"}, "invalid_audio", "audio"),
    ({"type": "session.update"}, "invalid_session", "session"),
    ({"type": "session.update", "session": {"audio": {"input": {"turn_detection": {"silence_duration_ms": 5}}}}},
     "invalid_session", "session.audio.input.turn_detection.silence_duration_ms"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "robot", "content": []}},
     "invalid_item", "item.role"),
    ({"type": "response.create", "response": {"instructions": 3}}, "invalid_response", "response.instructions"),
])
def test_bad_events_raise_protocol_errors(message, code, param):
    with pytest.raises(ProtocolError) as info:
        parse(message)
    assert info.value.code == code and info.value.param == param


def test_size_limit_and_binary_messages():
    with pytest.raises(ProtocolError) as info:
        parse({"type": "input_audio_buffer.append", "audio": "A" * 2000}, max_bytes=1000)
    assert info.value.code == "message_too_large"
    with pytest.raises(ProtocolError) as info:
        parse_client_event(b"{}", max_bytes=1000, input_format=PCM8)
    assert info.value.code == "invalid_message"


def test_error_event_shape():
    event = Error.of(ProtocolError("unknown_event", "nope", event_id="c1", param="type")).to_wire()
    assert event["type"] == "error" and event["event_id"].startswith("event_")
    assert event["error"] == {"type": "invalid_request_error", "code": "unknown_event", "message": "nope",
                              "param": "type", "event_id": "c1"}


def test_the_servers_append_fast_path_gives_what_the_general_path_gives():
    from local_ai_server.realtime.inbound import parse as server_parse
    from realtime_protocol import append_message

    def both(message, fmt=PCM8, max_bytes=1 << 20):
        results = []
        for fn in (server_parse, parse_client_event):
            try:
                results.append(fn(message, max_bytes=max_bytes, input_format=fmt))
            except ProtocolError as exc:
                results.append((exc.code, exc.param))
        return results

    for message in (append_message(bytes(320)), append_message(bytes(161)), append_message(b""),
                    '{"type":"input_audio_buffer.append","audio":"%%%"}',
                    '{"type":"input_audio_buffer.append","audio":"AA\\/A"}'):
        fast, general = both(message)
        assert fast == general, message
    fast, general = both(append_message(bytes(161)), fmt=PCMU)
    assert fast == general == InputAudioBufferAppend(bytes(161))
    fast, general = both(append_message(bytes(3000)), max_bytes=1000)
    assert fast == general == ("message_too_large", None)
