"""Shared pytest setup: anyio runs every async test on asyncio (the engine's backend)."""
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"
