"""Several local-ai-server replicas behind one provider: calls are spread, a dead or unhealthy
replica is skipped without losing the call, and a replica that comes back gets calls again."""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack

import pytest
from ai_engine.config import ProviderSettings, Settings
from ai_engine.providers import base
from ai_engine.providers.registry import build_provider
from ai_engine.providers.replicas import ReplicatedProvider
from fakes.realtime_server import FakeRealtimeServer

pytestmark = pytest.mark.anyio


def options(n: int) -> base.SessionOptions:
    return base.SessionOptions(instructions="Be brief.", voice=None, call_id=f"c{n}")


def closed_port_url(path: str = "/v1/realtime", scheme: str = "ws") -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    return f"{scheme}://127.0.0.1:{port}{path}"


def replicated(*replicas: dict, **extra) -> ReplicatedProvider:
    settings = ProviderSettings(replicas=list(replicas), connect_timeout_s=2.0, **extra)
    provider = build_provider("local", settings)
    assert isinstance(provider, ReplicatedProvider)
    return provider


async def open_calls(provider, n: int, stack: AsyncExitStack) -> None:
    for i in range(n):
        await stack.enter_async_context(provider.session(options(i)))


async def test_calls_are_spread_over_the_replicas():
    async with FakeRealtimeServer().running() as a, FakeRealtimeServer().running() as b:
        provider = replicated({"url": a.url}, {"url": b.url})
        async with AsyncExitStack() as stack:
            await open_calls(provider, 4, stack)
            assert (len(a.sessions), len(b.sessions)) == (2, 2)
            assert provider.active == [2, 2]
        assert provider.active == [0, 0]
        async with AsyncExitStack() as stack:  # the next call goes where fewest calls are open
            await stack.enter_async_context(provider.session(options(9)))
            await open_calls(provider, 1, stack)
            assert provider.active == [1, 1]


async def test_a_dead_replica_is_skipped_without_losing_the_call():
    async with FakeRealtimeServer().running() as alive:
        provider = replicated({"url": closed_port_url()}, {"url": alive.url})
        async with AsyncExitStack() as stack:
            await open_calls(provider, 3, stack)
        assert len(alive.sessions) == 3
        assert provider.active == [0, 0]


async def test_a_replica_failing_its_health_check_gets_no_calls():
    async with FakeRealtimeServer().running() as sick, FakeRealtimeServer().running() as well:
        provider = replicated({"url": sick.url, "health_url": closed_port_url("/health", "http")},
                              {"url": well.url, "health_url": None})
        assert await provider.ready() is True
        assert "replicas not ready" in provider.not_ready_reason
        async with AsyncExitStack() as stack:
            await open_calls(provider, 3, stack)
        assert (len(sick.sessions), len(well.sessions)) == (0, 3)


async def test_no_replica_reachable_is_provider_unavailable():
    provider = replicated({"url": closed_port_url()}, {"url": closed_port_url()})
    with pytest.raises(base.ProviderUnavailable, match="no replica reachable"):
        async with provider.session(options(0)):
            pass


async def test_a_replica_marked_down_is_still_the_last_resort():
    async with FakeRealtimeServer().running() as back, FakeRealtimeServer().running() as other:
        provider = replicated({"url": back.url}, {"url": other.url})
        await back.kill()
        async with provider.session(options(0)):
            pass
        assert len(other.sessions) == 1  # back is marked down for replica_retry_s
        await back.start()
        await other.kill()
        async with provider.session(options(1)):  # other fails now; back, though marked down, is tried
            pass
        assert len(back.sessions) == 1
        async with provider.session(options(2)):  # and it is usable again at once
            pass
        assert len(back.sessions) == 2


def test_replicas_come_from_the_engine_config():
    settings = Settings(providers={"local": {"replicas": [{"url": "ws://10.0.0.1:8765/v1/realtime"},
                                                          {"url": "ws://10.0.0.2:8765/v1/realtime"}]}})
    provider = build_provider("local", settings.providers["local"])
    assert [r.settings.url for r in provider.replicas] == ["ws://10.0.0.1:8765/v1/realtime",
                                                          "ws://10.0.0.2:8765/v1/realtime"]
