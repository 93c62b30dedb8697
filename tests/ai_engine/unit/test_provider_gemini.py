"""Gemini Live event mapping (sans-IO): server messages -> the engine's provider events."""
import base64
import json

from ai_engine.providers import base
from ai_engine.providers.gemini import protocol as p

CONFIG = p.LiveConfig("models/gemini-live", "Puck", "en-US", "Be brief.", silence_duration_ms=600)


def content(**fields) -> str:
    return json.dumps({"serverContent": fields})


def audio_part(pcm: bytes) -> dict:
    return {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(pcm).decode()}}]}


def test_setup_asks_for_audio_voice_instructions_transcriptions_and_resumption():
    setup = json.loads(p.setup_message(CONFIG))["setup"]
    assert setup["model"] == "models/gemini-live"
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert setup["generationConfig"]["speechConfig"] == {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}, "languageCode": "en-US"}
    assert setup["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert setup["inputAudioTranscription"] == {} and setup["outputAudioTranscription"] == {}
    assert setup["realtimeInputConfig"]["automaticActivityDetection"] == {"disabled": False, "silenceDurationMs": 600}
    assert setup["sessionResumption"] == {}
    assert json.loads(p.setup_message(CONFIG, "h-1"))["setup"]["sessionResumption"] == {"handle": "h-1"}


def test_caller_audio_is_16k_pcm_and_the_greeting_a_user_turn():
    audio = json.loads(p.audio_message(b"\x01\x02"))["realtimeInput"]["audio"]
    assert audio == {"data": base64.b64encode(b"\x01\x02").decode(), "mimeType": "audio/pcm;rate=16000"}
    greeting = json.loads(p.greeting_message("Welcome to Acme"))["clientContent"]
    assert greeting["turnComplete"] is True and "Welcome to Acme" in greeting["turns"][0]["parts"][0]["text"]


def test_a_turn_maps_to_caller_transcript_reply_audio_text_and_done():
    live = p.LiveProtocol()
    assert live.receive(json.dumps({"setupComplete": {}})) == [p.SetupComplete()]
    assert live.receive(content(inputTranscription={"text": "What time"})) == []
    assert live.receive(content(inputTranscription={"text": " is it?"})) == []
    caller, started, audio = live.receive(content(modelTurn=audio_part(b"\x00\x01" * 240)))
    assert caller == base.Transcript("caller", "What time is it?")
    assert isinstance(started, base.ResponseStarted)
    assert audio == base.AgentAudio(started.response_id, b"\x00\x01" * 240, 24000)
    assert live.receive(content(outputTranscription={"text": "Noon."})) == [base.AgentText(started.response_id, "Noon.")]
    assert live.receive(content(generationComplete=True)) == []
    assert live.receive(content(turnComplete=True)) == [base.ResponseDone(started.response_id, "completed")]


def test_interrupted_is_caller_speech_and_ends_the_reply():
    live = p.LiveProtocol()
    started, _ = live.receive(content(modelTurn=audio_part(b"\x00\x01" * 10)))
    assert live.receive(content(interrupted=True)) == [base.SpeechStarted(), base.ResponseDone(started.response_id, "cancelled")]


def test_our_barge_in_drops_the_rest_of_the_turn_until_the_next():
    live = p.LiveProtocol()
    started, _ = live.receive(content(modelTurn=audio_part(b"\x00\x01" * 10)))
    assert live.cancel() == [base.ResponseDone(started.response_id, "cancelled")]
    assert live.receive(content(modelTurn=audio_part(b"\x00\x01" * 10))) == []
    assert live.receive(content(turnComplete=True)) == []
    again, _ = live.receive(content(modelTurn=audio_part(b"\x00\x01" * 10)))
    assert again.response_id != started.response_id


def test_go_away_and_resumption_handles():
    live = p.LiveProtocol()
    assert live.receive(json.dumps({"goAway": {"timeLeft": "9.5s"}})) == [p.GoAway(9.5)]
    assert live.receive(json.dumps({"sessionResumptionUpdate": {"newHandle": "h-7", "resumable": True}})) == [p.ResumptionHandle("h-7")]
    assert live.receive(json.dumps({"sessionResumptionUpdate": {"resumable": False}})) == []


def test_bad_audio_and_garbage_are_errors_not_crashes():
    live = p.LiveProtocol()
    bad = {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "***"}}]}
    assert isinstance(live.receive(content(modelTurn=bad))[0], base.ProviderError)
    assert isinstance(live.receive(b"\xff")[0], base.ProviderError)
    assert live.receive(json.dumps({"toolCall": {}})) == []
