"""OpenAI Realtime (GA) event mapping (sans-IO): our client events and server events -> provider events."""
import base64
import json

from ai_engine.providers import base
from ai_engine.providers.openai_realtime import protocol as p
from ai_engine.providers.ws_edge import ulaw_decode, ulaw_encode


def config(**overrides) -> p.RealtimeConfig:
    fields = dict(instructions="Be brief.", voice="marin", audio_format="pcmu", turn_detection="server_vad",
                  vad_threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500, eagerness="auto",
                  transcription_model="gpt-4o-mini-transcribe", language="en")
    return p.RealtimeConfig(**{**fields, **overrides})


def ev(**fields) -> str:
    return json.dumps({"event_id": "event_1", **fields})


def test_narrowband_session_is_pcmu_both_ways_with_transcription_and_no_model():
    update = json.loads(p.session_update(config()))
    session = update["session"]
    assert update["type"] == "session.update" and session["type"] == "realtime" and "model" not in session
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "marin"}
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe", "language": "en"}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"


def test_wideband_is_pcm_24k_and_semantic_vad_by_config():
    session = json.loads(p.session_update(config(audio_format="pcm24", turn_detection="semantic_vad", eagerness="low")))["session"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert session["audio"]["input"]["turn_detection"]["eagerness"] == "low"


def test_greeting_is_one_response_with_instructions_to_say_it_verbatim():
    msg = json.loads(p.greeting("Welcome to Acme."))
    assert msg["type"] == "response.create" and "Welcome to Acme." in msg["response"]["instructions"]
    assert "conversation.item.create" not in p.greeting("x")


def test_caller_audio_goes_out_as_mulaw():
    proto = p.RealtimeProtocol("pcmu")
    pcm = b"\x00\x08" * 160
    msg = json.loads(proto.encode_audio(pcm))
    assert msg["type"] == "input_audio_buffer.append"
    assert base64.b64decode(msg["audio"]) == ulaw_encode(pcm) and len(base64.b64decode(msg["audio"])) == 160


def test_a_turn_maps_to_speech_transcript_reply_audio_and_done():
    proto = p.RealtimeProtocol("pcmu")
    assert proto.receive(ev(type="input_audio_buffer.speech_started", audio_start_ms=0, item_id="i1")) == [base.SpeechStarted()]
    assert proto.receive(ev(type="input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="i1")) == [base.SpeechStopped()]
    assert proto.receive(ev(type="conversation.item.input_audio_transcription.completed", item_id="i1",
                            content_index=0, transcript="Hi")) == [base.Transcript("caller", "Hi")]
    assert proto.receive(ev(type="response.created", response={"id": "r1", "status": "in_progress"})) == [base.ResponseStarted("r1")]
    wire = bytes(range(256))[:160]
    [audio] = proto.receive(ev(type="response.output_audio.delta", response_id="r1", item_id="a1", output_index=0,
                               content_index=0, delta=base64.b64encode(wire).decode()))
    assert audio == base.AgentAudio("r1", ulaw_decode(wire), 8000)
    assert proto.item_id == "a1" and proto.delivered_ms == 20.0
    assert proto.receive(ev(type="response.output_audio_transcript.delta", response_id="r1", item_id="a1",
                            output_index=0, content_index=0, delta="Hello")) == [base.AgentText("r1", "Hello")]
    assert proto.receive(ev(type="response.done", response={"id": "r1", "status": "completed"})) == [base.ResponseDone("r1", "completed")]


def test_barge_in_cancels_the_reply_drops_its_audio_and_truncates_its_item():
    proto = p.RealtimeProtocol("pcm24")
    proto.receive(ev(type="response.created", response={"id": "r1", "status": "in_progress"}))
    proto.receive(ev(type="response.output_audio.delta", response_id="r1", item_id="a1", delta=base64.b64encode(b"\x00" * 4800).decode()))
    messages, item = proto.cancel()
    assert [json.loads(m)["type"] for m in messages] == ["response.cancel"] and item == "a1"
    late = ev(type="response.output_audio.delta", response_id="r1", item_id="a1", delta=base64.b64encode(b"\x00" * 480).decode())
    assert proto.receive(late) == []
    assert json.loads(proto.truncate("a1", 50)) == {"type": "conversation.item.truncate", "item_id": "a1", "content_index": 0, "audio_end_ms": 50}


def test_errors_benign_recoverable_fatal_and_refused():
    proto = p.RealtimeProtocol("pcmu")

    def error(code):
        return proto.receive(ev(type="error", error={"type": "invalid_request_error", "code": code, "message": "m"}))

    assert error("response_cancel_not_active") == []
    [recoverable] = error("invalid_value")
    assert isinstance(recoverable, base.ProviderError)
    assert error("rate_limit_exceeded")[-1] == p.Fatal("invalid_request_error rate_limit_exceeded: m", rejected=False)
    assert error("invalid_api_key")[-1].rejected is True
    failed = proto.receive(ev(type="response.done", response={"id": "r9", "status": "failed",
                                                              "status_details": {"error": {"code": "rate_limit_exceeded", "message": "slow down"}}}))
    assert failed[0] == base.ResponseDone("r9", "failed") and isinstance(failed[-1], p.Fatal)
    limits = proto.receive(ev(type="rate_limits.updated", rate_limits=[{"name": "tokens", "limit": 10, "remaining": 0, "reset_seconds": 3}]))
    assert isinstance(limits[0], base.ProviderError) and "tokens" in limits[0].message


def test_garbage_is_an_error_event_not_a_crash():
    proto = p.RealtimeProtocol("pcmu")
    assert isinstance(proto.receive("{nope")[0], base.ProviderError)
    assert proto.receive(ev(type="conversation.item.truncated", item_id="a1", content_index=0, audio_end_ms=10)) == []
