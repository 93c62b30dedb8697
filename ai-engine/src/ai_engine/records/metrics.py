"""Prometheus metrics of call records (same registry as observability.metrics)."""

from __future__ import annotations

from prometheus_client import Counter

RECORDS = Counter("ai_engine_call_records_total", "Call records by result (saved, failed, dropped)", ["result"])
WEBHOOKS = Counter("ai_engine_call_webhooks_total", "Post-call webhooks by result (delivered, failed)", ["result"])
RETENTION_DELETED = Counter(
    "ai_engine_call_records_expired_total", "Records and recordings deleted by retention", ["what"]
)
