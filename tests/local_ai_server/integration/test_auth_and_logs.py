"""Auth is an explicit choice, /health tells strangers only ready/not ready, and every log line of
a session carries the engine's call id (issue 13 items 5 and 7; issue 9 item 5)."""

from __future__ import annotations

import json
import logging

import pytest
from local_ai_fakes import http_get, make_runtime, serve
from local_ai_server.__main__ import main
from local_ai_server.client import RealtimeClient
from voice_common.logs import configure_logging

pytestmark = pytest.mark.anyio


async def test_health_without_the_token_says_only_whether_the_server_is_ready():
    runtime = make_runtime(auth_token="s3cret")
    async with serve(runtime) as host:
        status, body = await http_get(f"http://{host}/health")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        runtime.models.status["llm"].loaded = False
        runtime.load_error = "OSError: /models/secret-path.gguf unreadable"
        status, body = await http_get(f"http://{host}/health")
        assert status == 503 and json.loads(body) == {"status": "error"}


async def test_health_with_the_token_shows_the_models():
    import urllib.request

    import anyio.to_thread

    async with serve(make_runtime(auth_token="s3cret")) as host:
        def get() -> dict:
            request = urllib.request.Request(f"http://{host}/health", headers={"Authorization": "Bearer s3cret"})
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())

        body = await anyio.to_thread.run_sync(get)
    assert set(body["models"]) == {"stt", "llm", "tts"}


def logs_into(monkeypatch, buffer) -> None:
    monkeypatch.setattr("local_ai_server.__main__.configure_logging",
                        lambda level: configure_logging(level, stream=buffer))


def test_the_server_refuses_to_start_without_a_token_unless_told_to(monkeypatch, captured_logs):
    logs_into(monkeypatch, captured_logs)
    monkeypatch.setattr("local_ai_server.__main__.make_uvicorn_server", lambda runtime: pytest.fail("served"))
    assert main([]) == 2
    assert "LOCAL_AI_AUTH_TOKEN" in captured_logs.getvalue()


class _Served:
    def run(self) -> None:
        pass


def test_allow_no_auth_serves_without_a_token(monkeypatch, captured_logs):
    logs_into(monkeypatch, captured_logs)
    monkeypatch.setenv("LOCAL_AI_SERVER__ALLOW_NO_AUTH", "true")
    monkeypatch.setattr("local_ai_server.__main__.make_uvicorn_server", lambda runtime: _Served())
    assert main([]) == 0
    assert "server.auth_disabled" in captured_logs.getvalue()


def log_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_every_log_line_of_a_session_carries_the_call_id(captured_logs):
    async with serve(make_runtime()) as host:
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime", call_id="1733012345.42") as client:
            await client.wait_for("session.created")
            await client.update_session(rate=8000)
        async with RealtimeClient.connect(f"ws://{host}/v1/realtime", call_id="x" * 65) as client:
            await client.wait_for("session.created")
    lines = log_lines(captured_logs.getvalue())
    sessions = {}
    for line in lines:
        if "session_id" in line:
            sessions.setdefault(line["session_id"], []).append(line)
    assert len(sessions) == 2
    first, second = sessions.values()
    assert all(line.get("call_id") == "1733012345.42" for line in first)
    assert {"session.started", "event.in", "event.out", "session.ended"} <= {line["event"] for line in first}
    assert all("call_id" not in line for line in second)
    assert any(line["event"] == "ws.call_id_ignored" for line in lines)


def test_a_stdlib_error_log_carries_its_traceback(captured_logs):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    lines = log_lines(captured_logs.getvalue())
    assert "Traceback (most recent call last)" in lines[-1]["exception"]
    assert "ValueError: boom" in lines[-1]["exception"]
    assert "traceback object" not in json.dumps(lines[-1])
