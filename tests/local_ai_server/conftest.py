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
    from local_ai_server.logging_setup import configure_logging

    configure_logging("info")
