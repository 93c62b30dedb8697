"""Deepgram Voice Agent v1 event mapping (sans-IO): server messages -> the engine's provider events."""
import json

from ai_engine.providers import base
from ai_engine.providers.deepgram import protocol as p
from ai_engine.providers.ws_edge import ulaw_encode

CONFIG = p.AgentConfig("mulaw", 8000, "en", "nova-3", "open_ai", "gpt-4o-mini", "aura-2-thalia-en", "Be brief.")


def msg(**fields) -> str:
    return json.dumps(fields)


def test_settings_first_carries_phone_audio_providers_prompt_and_greeting():
    settings = json.loads(p.settings_message(CONFIG, "Hello there"))
    assert settings["type"] == "Settings"
    assert settings["audio"] == {
        "input": {"encoding": "mulaw", "sample_rate": 8000},
        "output": {"encoding": "mulaw", "sample_rate": 8000, "container": "none"},
    }
    agent = settings["agent"]
    assert agent["listen"]["provider"] == {"type": "deepgram", "model": "nova-3"}
    assert agent["think"] == {"provider": {"type": "open_ai", "model": "gpt-4o-mini"}, "prompt": "Be brief."}
    assert agent["speak"]["provider"] == {"type": "deepgram", "model": "aura-2-thalia-en"}
    assert agent["greeting"] == "Hello there" and agent["language"] == "en"
    assert "greeting" not in json.loads(p.settings_message(CONFIG, None))["agent"]
    assert json.loads(p.keep_alive_message()) == {"type": "KeepAlive"}


def test_a_turn_maps_to_speech_transcripts_reply_audio_and_done():
    dg = p.AgentProtocol("mulaw", 8000)
    assert dg.receive_text(msg(type="Welcome", request_id="r1")) == [p.Welcome("r1")]
    assert dg.receive_text(msg(type="SettingsApplied")) == [p.SettingsApplied()]
    assert dg.receive_text(msg(type="UserStartedSpeaking")) == [base.SpeechStarted()]
    assert dg.receive_text(msg(type="ConversationText", role="user", content="What time is it?")) == [
        base.Transcript("caller", "What time is it?")
    ]
    assert dg.receive_text(msg(type="AgentThinking", content="...")) == []
    started, text = dg.receive_text(msg(type="ConversationText", role="assistant", content="It is noon."))
    assert isinstance(started, base.ResponseStarted) and text == base.AgentText(started.response_id, "It is noon.")
    metrics = dg.receive_text(msg(type="AgentStartedSpeaking", total_latency=0.5, tts_latency=0.2, ttt_latency=0.3))
    assert metrics == [base.TurnMetrics({"total_ms": 500.0, "tts_ms": 200.0, "ttt_ms": 300.0})]
    pcm = (b"\x00\x10" * 160)
    [audio] = dg.receive_audio(ulaw_encode(pcm))
    assert audio.response_id == started.response_id and audio.rate == 8000 and len(audio.pcm) == len(pcm)
    assert dg.receive_text(msg(type="AgentAudioDone")) == [base.ResponseDone(started.response_id, "completed")]


def test_caller_speech_ends_the_reply_and_its_late_audio_is_dropped():
    dg = p.AgentProtocol("linear16", 16000)
    [started, _] = dg.receive_audio(b"\x01\x00" * 320)
    assert dg.receive_text(msg(type="UserStartedSpeaking")) == [base.SpeechStarted(), base.ResponseDone(started.response_id, "cancelled")]
    assert dg.receive_audio(b"\x01\x00" * 320) == [], "the interrupted reply's tail never plays"
    [next_reply] = dg.receive_text(msg(type="AgentStartedSpeaking"))
    assert isinstance(next_reply, base.ResponseStarted) and next_reply.response_id != started.response_id


def test_our_own_barge_in_drops_the_rest_of_the_reply():
    dg = p.AgentProtocol("linear16", 16000)
    [started, _] = dg.receive_audio(b"\x01\x00" * 320)
    assert dg.cancel() == [base.ResponseDone(started.response_id, "cancelled")]
    assert dg.receive_audio(b"\x01\x00" * 320) == []
    assert dg.receive_text(msg(type="AgentAudioDone")) == []


def test_warning_is_an_error_event_and_error_ends_the_session():
    dg = p.AgentProtocol("mulaw", 8000)
    assert dg.receive_text(msg(type="Warning", code="SLOW", description="slow think")) == [
        base.ProviderError("warning SLOW: slow think")
    ]
    events = dg.receive_text(msg(type="Error", code="INTERNAL_SERVER_ERROR", description="boom"))
    assert isinstance(events[0], base.ProviderError) and events[1] == p.Fatal("INTERNAL_SERVER_ERROR: boom")


def test_garbage_and_odd_pcm_are_errors_not_crashes():
    dg = p.AgentProtocol("linear16", 16000)
    assert isinstance(dg.receive_text("{not json")[0], base.ProviderError)
    assert isinstance(dg.receive_text("[1, 2]")[0], base.ProviderError)
    assert isinstance(dg.receive_audio(b"\x01")[0], base.ProviderError)
    assert dg.receive_text(msg(type="FunctionCallRequest", functions=[])) == []
