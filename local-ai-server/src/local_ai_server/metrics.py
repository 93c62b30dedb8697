"""Prometheus metrics (served at GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)

SESSIONS_ACTIVE = Gauge("local_ai_sessions_active", "Open Realtime sessions")
SESSIONS_TOTAL = Counter("local_ai_sessions_total", "Realtime sessions opened")
TURNS_TOTAL = Counter("local_ai_turns_total", "Caller turns ended by the VAD or a commit")
RESPONSES_TOTAL = Counter("local_ai_responses_total", "Responses by final status", ["status"])
ERRORS_TOTAL = Counter("local_ai_client_errors_total", "error events sent to clients", ["code"])
TURN_FIRST_AUDIO = Histogram(
    "local_ai_turn_first_audio_seconds", "End of caller speech to the first audio delta", buckets=_LATENCY_BUCKETS
)
TURN_TRANSCRIPT = Histogram(
    "local_ai_turn_transcript_seconds", "End of caller speech to the transcript event", buckets=_LATENCY_BUCKETS
)
TURN_HOLDS = Counter(
    "local_ai_turn_holds_total", "Pauses whose speculative transcript sounded unfinished (end-of-turn silence lengthened)"
)
TURN_EARLY_ENDS = Counter(
    "local_ai_turn_early_ends_total", "Pauses whose speculative transcript clearly ended (end-of-turn silence shortened)"
)
TURN_STAGE = Histogram(
    "local_ai_turn_stage_seconds",
    "Per-turn stages: end_of_turn_wait (end of speech to speech_stopped), stt, llm_first_token (response "
    "requested to first token), first_sentence_tts (first text piece to its first audio)",
    ["stage"],
    buckets=(0.02, 0.05, *_LATENCY_BUCKETS),
)
TURN_FILLERS = Counter(
    "local_ai_turn_fillers_total",
    "Turns that began with the filler (overload): why=predicted (first audio predicted past "
    "admission.filler_after_ms) or bound (no first piece being synthesised at that bound)",
    ["why"],
)
SESSIONS_REFUSED = Counter(
    "local_ai_sessions_refused_total", "New sessions refused with HTTP 503, by reason (overloaded, too_many_sessions)",
    ["reason"],
)
