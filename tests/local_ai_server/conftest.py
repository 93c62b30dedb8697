"""Fixtures for the local-ai-server tests."""

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_local_ai_env(monkeypatch):
    """Settings come from the test, never from the developer's environment."""
    for name in list(os.environ):
        if name.startswith("LOCAL_AI_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True, scope="session")
def _json_logs_at_info():
    from voice_common.logs import configure_logging

    configure_logging("info")


@pytest.fixture
def captured_logs():
    """Log lines go to a buffer (read them with `captured_logs.getvalue()`); the previous logging
    set-up comes back afterwards."""
    import io
    import logging

    import structlog
    from voice_common.logs import configure_logging

    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("info", stream=buffer)
    yield buffer
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)
