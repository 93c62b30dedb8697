"""What the admin page says about a live call (web/views.py): its state read off its recorder, and
the last hour's turn-latency percentiles."""
from __future__ import annotations

from ai_engine.records.record import CallRecorder
from ai_engine.web.views import call_state, percentile


def test_a_calls_state_follows_the_conversation():
    r = CallRecorder("c1")
    assert call_state(r) == "greeting"  # nothing said yet
    r.agent_text("g", "Hello")
    assert call_state(r) == "greeting"  # the greeting is being spoken
    r.agent_done("g")
    assert call_state(r) == "listening"
    r.caller_said("what are your opening hours")
    assert call_state(r) == "thinking"  # the caller asked, no reply yet
    r.agent_text("r1", "We open at nine")
    assert call_state(r) == "speaking"
    r.agent_done("r1")
    assert call_state(r) == "listening"


def test_turn_latency_percentiles():
    assert percentile([], 50) is None
    assert percentile([700.0], 95) == 700.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.5
    assert percentile(values, 95) == 95.0  # shown to 0.1 ms


def test_the_doctors_result_is_kept_for_the_page_and_a_broken_file_is_no_result(tmp_path):
    from ai_engine.admin.report import failed, passed
    from ai_engine.web import doctor_result

    assert doctor_result.load(tmp_path) is None  # never run
    doctor_result.save(tmp_path / "data", [passed("configuration", "ok"), failed("ARI", "refused", "start Asterisk")])
    kept = doctor_result.load(tmp_path / "data")
    assert [(c["name"], c["status"], c["fix"]) for c in kept["checks"]] == [("configuration", "PASS", ""), ("ARI", "FAIL", "start Asterisk")]
    (tmp_path / "data" / doctor_result.FILE).write_text("{not json")
    assert doctor_result.load(tmp_path / "data") is None
