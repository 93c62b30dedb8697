"""Prometheus metrics of the engine (docs/architecture.md §6). Module-level: one registry per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CALLS = Counter("ai_engine_calls_total", "Calls that entered the app, by outcome", ["outcome"])
ACTIVE_CALLS = Gauge("ai_engine_active_calls", "Calls in progress")
CALL_SETUP_SECONDS = Histogram(
    "ai_engine_call_setup_seconds", "StasisStart to capture leg bound", buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
)
TURN_LATENCY_SECONDS = Histogram(
    "ai_engine_turn_latency_seconds",
    "End of caller speech to first agent audio (stage=total), and its stages",
    ["stage", "mode"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.5, 2, 3, 5),
)
BARGE_INS = Counter("ai_engine_barge_ins_total", "Caller speech that stopped agent audio", ["mode"])
PLAYBACKS = Counter("ai_engine_playbacks_total", "File playbacks by final state", ["state"])
PLAYBACK_FAILURES = Counter("ai_engine_playback_failures_total", "File playbacks that failed or never finished", ["reason"])
ARI_RECONNECTS = Counter("ai_engine_ari_reconnects_total", "Events WebSocket (re)connections after the first")
ARI_CONNECTED = Gauge("ai_engine_ari_connected", "1 while the ARI events WebSocket is connected")
ARI_ERRORS = Counter("ai_engine_ari_errors_total", "ARI REST errors by status", ["status"])
AUDIOSOCKET_CONNECTIONS = Counter("ai_engine_audiosocket_connections_total", "AudioSocket connections by outcome", ["outcome"])
FRAMES_IN = Counter("ai_engine_frames_in_total", "AudioSocket audio frames received")
FRAMES_OUT = Counter("ai_engine_frames_out_total", "AudioSocket audio frames sent")
MEDIA_CLOCK_LAG_SECONDS = Histogram(
    "ai_engine_media_clock_lag_seconds",
    "Stream mode: how late each 20 ms media-clock tick finished after its deadline",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
)
MEDIA_CLOCK_RESETS = Counter(
    "ai_engine_media_clock_resets_total", "Stream mode: pacing restarts (the clock fell more than stream_max_lag_ms behind)"
)
UNDERRUNS = Counter("ai_engine_stream_underruns_total", "Stream mode: 20 ms ticks with no agent audio ready mid-reply")
TOOL_CALLS = Counter("ai_engine_tool_calls_total", "Tool calls of the model, by tool and outcome (ok, error, timeout)", ["tool", "outcome"])
TOOL_SECONDS = Histogram(
    "ai_engine_tool_seconds", "Time a tool call took", ["tool"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
)
TRANSFERS = Counter("ai_engine_transfers_total", "Transfers by mode and outcome (done, not_answered, failed)", ["mode", "outcome"])
DTMF_KEYS = Counter("ai_engine_dtmf_keys_total", "Caller key presses (ARI ChannelDtmfReceived)")
PROVIDER_ERRORS = Counter("ai_engine_provider_errors_total", "Provider session errors", ["provider", "kind"])
MEDIA_FILES_DELETED = Counter("ai_engine_media_files_deleted_total", "Agent audio files deleted, by reason", ["reason"])
MEDIA_PACKETS_DROPPED = Counter(
    "ai_engine_media_packets_dropped_total",
    "RTP / chan_websocket media dropped before reaching a call, by transport and reason (stranger, malformed, "
    "payload_type, late, duplicate, lost)",
    ["transport", "reason"],
)
