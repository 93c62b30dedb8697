"""The Grafana dashboard queries only metrics (and labels) that the two services export on
/metrics, and the Prometheus example scrapes both where compose and the config put them."""
import json
import re
import urllib.parse
from pathlib import Path

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\b((?:ai_engine|local_ai)_[a-z_]+)\b")
SUFFIXES = {Counter: ("_total",), Gauge: ("",), Histogram: ("_bucket", "_sum", "_count")}


def exported() -> dict[str, set[str]]:
    """Series name -> label names, from both services' metrics modules (what /metrics serves)."""
    from ai_engine.observability import metrics as engine_metrics
    from local_ai_server import metrics as server_metrics

    series: dict[str, set[str]] = {}
    for module in (engine_metrics, server_metrics):
        for obj in vars(module).values():
            for kind, suffixes in SUFFIXES.items():
                if isinstance(obj, kind):
                    base = obj._name  # prometheus_client keeps the family name here (no _total)
                    labels = set(obj._labelnames) | ({"le"} if kind is Histogram else set())
                    for suffix in suffixes:
                        series[base + suffix] = labels
    return series


def queries() -> list[str]:
    dash = json.loads((ROOT / "monitoring/grafana-dashboard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_every_dashboard_metric_exists_in_the_services_metrics():
    series = exported()
    used = {m for q in queries() for m in NAME.findall(q)}
    assert used, "the dashboard queries nothing"
    assert used <= set(series), f"not exported by either service: {sorted(used - set(series))}"


@pytest.mark.parametrize("expr", queries())
def test_every_label_a_query_uses_exists_on_its_metric(expr):
    series = exported()
    names = NAME.findall(expr)
    for group in re.findall(r"by \(([^)]*)\)", expr):
        for label in (x.strip() for x in group.split(",")):
            assert any(label in series[n] for n in names), (expr, label)
    for label in re.findall(r"\{(\w+)=", expr):
        assert any(label in series[n] for n in names), (expr, label)


def test_exported_names_match_what_metrics_endpoints_print():
    from prometheus_client import REGISTRY, generate_latest

    text = generate_latest(REGISTRY).decode()
    for name in exported():
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert f"# TYPE {name} " in text or f"# TYPE {base} " in text, name


def test_prometheus_example_scrapes_both_services_where_they_listen():
    from ai_engine.config import Settings

    prom = yaml.safe_load((ROOT / "monitoring/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert set(jobs) == {"ai-engine", "local-ai-server"}
    engine = Settings(ari={"password": "x-real-one"})
    assert jobs["ai-engine"]["static_configs"][0]["targets"] == [f"127.0.0.1:{engine.http.port}"]
    port = urllib.parse.urlparse(engine.providers["local"].url).port
    assert jobs["local-ai-server"]["static_configs"][0]["targets"] == [f"127.0.0.1:{port}"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert f"127.0.0.1:{port}:{port}" in compose["services"]["local-ai-server"]["ports"]
    for job in jobs.values():
        assert job["metrics_path"] == "/metrics"


def test_a_late_media_clock_tick_shows_in_the_lag_metric():
    from prometheus_client import REGISTRY

    from ai_engine.playback.media_clock import MediaClock
    from ai_engine.playback.stream_buffer import Pacer

    def lag_count() -> float:
        return REGISTRY.get_sample_value("ai_engine_media_clock_lag_seconds_count") or 0.0

    def late_ticks() -> float:  # ticks 5 ms or more late
        total = REGISTRY.get_sample_value("ai_engine_media_clock_lag_seconds_count") or 0.0
        return total - (REGISTRY.get_sample_value("ai_engine_media_clock_lag_seconds_bucket", {"le": "0.0025"}) or 0.0)

    clock = MediaClock(keepalive_s=0.5, read_timeout_s=5.0)
    clock.pacer = Pacer(100.0, 0.02, 0.1)
    before, late_before = lag_count(), late_ticks()
    clock._advance(100.0005)  # on time
    clock._advance(100.03)  # the second tick (deadline 100.02) ran 10 ms late
    assert lag_count() - before == 2
    assert late_ticks() - late_before == 1
    resets = REGISTRY.get_sample_value("ai_engine_media_clock_resets_total") or 0.0
    clock._advance(100.5)  # far behind: the schedule restarts
    assert REGISTRY.get_sample_value("ai_engine_media_clock_resets_total") == resets + 1
