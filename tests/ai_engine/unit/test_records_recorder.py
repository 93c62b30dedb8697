"""The CallRecorder a call reports to, and the settings around records."""
import pytest

from ai_engine.calls.conversation import opening_words
from ai_engine.config import PersonaSettings, Settings
from ai_engine.records.record import CallRecorder
from ai_engine.records.service import database_url
from ai_engine.records.webhook import _safe


def test_turns_in_order_with_pieces_joined_and_interrupted_replies_marked():
    r = CallRecorder("c1", caller_number="+491", persona="default", provider="local")
    r.answered()
    r.agent_text("greet", "Hello, ")
    r.agent_text("greet", "how can I help?")
    r.agent_done("greet")
    r.caller_said("  I need a taxi ")
    r.agent_text("r1", "Sure.")  # whole sentences (Deepgram, Gemini) get a space between them
    r.agent_text("r1", "Where to?")
    r.agent_done("r1")
    r.caller_said("to the station")
    r.agent_text("r2", "On its way")  # the caller hangs up mid-reply
    r.turn_latency({"speech_stopped": 500.0, "total": 800.0})
    r.tool_call("lookup", {"q": "taxi"}, {"eta_min": 4})
    record = r.finish("completed", "caller hung up")
    assert [(t["role"], t["text"]) for t in record.transcript] == [
        ("agent", "Hello, how can I help?"), ("caller", "I need a taxi"), ("agent", "Sure. Where to?"),
        ("caller", "to the station"), ("agent", "On its way")]
    assert record.transcript[-1]["interrupted"] is True and "interrupted" not in record.transcript[0]
    assert record.turn_latency == [{"speech_stopped_ms": 500.0, "total_ms": 800.0}]
    assert record.tool_calls[0]["name"] == "lookup" and record.tool_calls[0]["result"] == {"eta_min": 4}
    assert record.answered_at is not None and record.duration_s >= 0
    body = record.to_json()
    assert body["started_at"].endswith("+00:00") and body["recording"] is None


def test_a_transfer_tool_sets_the_target_and_the_outcome_over_completed_only():
    r = CallRecorder("c4")
    r.transfer("operator (1001@from-internal)")
    r.ended_as("transferred")
    record = r.finish("completed", "transferred")
    assert (record.transfer_target, record.outcome) == ("operator (1001@from-internal)", "transferred")
    failed = CallRecorder("c5")
    failed.ended_as("transferred")
    assert failed.finish("provider_failed", "provider: gone").outcome == "provider_failed"


def test_empty_transcripts_and_unknown_replies_leave_no_turn():
    r = CallRecorder("c2")
    r.caller_said("   ")
    r.agent_done("never-started")
    assert r.finish("completed", "").transcript == []


def test_a_recorded_call_links_its_file_through_the_api():
    r = CallRecorder("c3")
    r.recording("ai-agent-c3.wav")
    record = r.finish("completed", "")
    assert record.recording == "ai-agent-c3.wav" and record.to_json()["recording"] == "/calls/c3/recording"


def test_a_text_announcement_is_spoken_before_the_greeting_a_sound_is_not():
    spoken = PersonaSettings(record=True, record_announcement="This call is recorded.", greeting="Hi")
    assert opening_words(spoken) == "This call is recorded. Hi"
    assert opening_words(PersonaSettings(record=True, record_announcement="sound:custom/rec", greeting="Hi")) == "Hi"
    assert opening_words(PersonaSettings(record=False, record_announcement="Recorded.", greeting="Hi")) == "Hi"
    assert opening_words(PersonaSettings(greeting="")) == ""


def test_database_url_defaults_to_sqlite_in_the_data_dir_and_takes_the_password_from_its_own_setting():
    s = Settings(records={"data_dir": "/var/lib/ai"})
    assert database_url(s.records) == "sqlite:////var/lib/ai/calls.db"
    pg = Settings(records={"database_url": "postgresql://ai@db/calls", "database_password": "s3cret"})
    assert database_url(pg.records) == "postgresql://ai:s3cret@db/calls"


def test_a_password_inside_database_url_is_refused_at_start():
    s = Settings(ari={"password": "a-real-one"}, records={"database_url": "postgresql://ai:pw@db/calls"})
    with pytest.raises(ValueError, match="AI_ENGINE_RECORDS__DATABASE_PASSWORD"):
        s.check_ready_to_run()
    Settings(ari={"password": "a-real-one"}, records={"database_url": "postgresql://ai@db/calls"}).check_ready_to_run()


def test_webhook_urls_are_http_and_logged_without_credentials():
    with pytest.raises(ValueError):
        PersonaSettings(webhook_url="ftp://example.org/x")
    assert _safe("https://user:pw@hooks.example.org/in?key=abc") == "https://hooks.example.org/in"
