"""The Realtime provider client against a fake server speaking the protocol over a WebSocket."""
import asyncio
import base64
import contextlib
import hashlib
import re
from contextlib import asynccontextmanager

import anyio
import numpy as np
import pytest

from ai_engine.config import ProviderSettings
from ai_engine.providers import base
from ai_engine.providers.realtime import RealtimeProvider
from fakes.realtime_server import FakeRealtimeServer
from websockets.asyncio.server import serve

pytestmark = pytest.mark.anyio
OPTIONS = base.SessionOptions(instructions="Be brief.", voice=None, call_id="c1")


def tone(ms, freq=600, rate=8000):
    t = np.arange(rate * ms // 1000) / rate
    return (8000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


async def test_session_update_then_a_spoken_turn_gets_transcript_and_audio():
    async with FakeRealtimeServer().running() as fake:
        provider = RealtimeProvider("local", ProviderSettings(url=fake.url, health_url=None))
        async with provider.session(OPTIONS) as session:
            speech, silence = tone(600), b"\x00" * 320 * 30
            for i in range(0, len(speech + silence), 320):
                await session.send_audio((speech + silence)[i : i + 320])
            events, audio = [], b""
            async for ev in session.events():
                events.append(type(ev).__name__)
                if isinstance(ev, base.AgentAudio):
                    audio += ev.pcm
                if isinstance(ev, base.ResponseDone):
                    break
        log = fake.sessions[0]
        assert log.received[0]["type"] == "session.update"
        assert log.instructions == "Be brief." and log.input_rate == 8000 and log.output_rate == 8000
        assert events[:3] == ["SpeechStarted", "SpeechStopped", "Transcript"]
        assert "AgentText" in events and events[-1] == "ResponseDone"
        assert abs(len(audio) - len(speech)) <= 320


async def test_cancelled_response_audio_is_never_delivered():
    async with FakeRealtimeServer(chunk_ms=20, chunk_interval_s=0.01).running() as fake:
        provider = RealtimeProvider("local", ProviderSettings(url=fake.url, health_url=None))
        async with provider.session(OPTIONS) as session:
            await session.say("Hello there")
            got_audio_after_cancel = False
            cancelled = False
            async for ev in session.events():
                if isinstance(ev, base.AgentAudio):
                    if cancelled:
                        got_audio_after_cancel = True
                    else:
                        await session.cancel_response()
                        cancelled = True
                if isinstance(ev, base.ResponseDone):
                    assert ev.status == "cancelled"
                    break
        assert cancelled and not got_audio_after_cancel


async def test_a_cancel_that_crossed_the_servers_own_is_not_an_error_and_the_session_goes_on():
    async with FakeRealtimeServer().running() as fake:
        provider = RealtimeProvider("local", ProviderSettings(url=fake.url, health_url=None))
        async with provider.session(OPTIONS) as session:
            await session.cancel_response()  # nothing is active: the server answers with an error event
            await session.say("Hello there")
            seen = []
            with anyio.fail_after(5):
                async for ev in session.events():
                    seen.append(type(ev))
                    if isinstance(ev, base.ResponseDone):
                        break
        errors = [m["error"]["code"] for m in fake.sessions[0].sent if m["type"] == "error"]
        assert errors == ["response_cancel_not_active"]
        assert base.ProviderError not in seen and base.AgentAudio in seen


async def test_bearer_token_is_sent_and_a_refusal_is_a_clear_error():
    from pydantic import SecretStr

    async with FakeRealtimeServer().running() as fake:
        fake.token = "tok"
        ok = RealtimeProvider("local", ProviderSettings(url=fake.url, health_url=None, auth_token=SecretStr("tok")))
        async with ok.session(OPTIONS):
            pass
        bad = RealtimeProvider("local", ProviderSettings(url=fake.url, health_url=None))
        with pytest.raises(base.ProviderUnavailable):
            async with bad.session(OPTIONS):
                pass


async def test_unreachable_provider_is_unavailable_quickly():
    provider = RealtimeProvider("local", ProviderSettings(url="ws://127.0.0.1:9/v1/realtime", health_url=None))
    with pytest.raises(base.ProviderUnavailable):
        async with provider.session(OPTIONS):
            pass


async def test_the_call_id_travels_as_a_header_and_the_provider_session_id_is_kept():
    async with FakeRealtimeServer().running() as fake:
        provider = RealtimeProvider("local", ProviderSettings(url=fake.url, health_url=None))
        async with provider.session(OPTIONS) as session:
            assert session.session_id and session.session_id.startswith("sess_")
        assert fake.sessions[0].call_id == "c1"


@asynccontextmanager
async def scripted_server(script):
    """A WebSocket server that runs `script(ws)` for each connection (a misbehaving provider)."""
    async def handler(ws):
        with contextlib.suppress(Exception):
            await script(ws)

    async with serve(handler, "127.0.0.1", 0, max_queue=1) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/realtime"


async def closes_at_once(ws):
    await ws.close(1011, "overloaded")


async def never_says_hello(ws):
    await ws.wait_closed()


async def says_garbage_first(ws):
    await ws.send('{"type": "session.created", "session": "nope"}')
    await ws.wait_closed()


@pytest.mark.parametrize("script", [closes_at_once, never_says_hello, says_garbage_first])
async def test_a_session_that_fails_on_open_is_unavailable_so_the_call_holds_and_retries(script):
    async with scripted_server(script) as url:
        provider = RealtimeProvider("local", ProviderSettings(url=url, health_url=None, connect_timeout_s=0.3))
        with pytest.raises(base.ProviderUnavailable):
            async with provider.session(OPTIONS):
                pass


SESSION_CREATED = '{"type": "session.created", "session": {"id": "sess_1"}}'


async def malformed_then_good(ws):
    await ws.send(SESSION_CREATED)
    await ws.recv()  # our session.update
    for bad in ('{"type": "response.created", "response": "r1"}',
                '{"type": "response.output_audio.delta", "response_id": "r1", "item_id": "i", "delta": 12}',
                '{"type": "x_local.turn.metrics", "item_id": "i", "status": "completed", "stt_ms": 1' + "0" * 50 + "}",
                '{"type": "response.done", "response": {"id": ["r1"]}}'):
        await ws.send(bad)
    await ws.send('{"type": "response.done", "response": {"id": "r1", "status": "completed"}}')
    await ws.wait_closed()


async def test_malformed_provider_events_are_errors_and_the_session_goes_on():
    async with scripted_server(malformed_then_good) as url:
        provider = RealtimeProvider("local", ProviderSettings(url=url, health_url=None))
        async with provider.session(OPTIONS) as session:
            seen = []
            with anyio.fail_after(5):
                async for ev in session.events():
                    seen.append(ev)
                    if isinstance(ev, base.ResponseDone):
                        break
    assert [type(e) for e in seen] == [base.ProviderError] * 4 + [base.ResponseDone]
    assert seen[-1] == base.ResponseDone("r1", "completed")


@asynccontextmanager
async def server_that_stops_reading():
    """Completes the WebSocket handshake, says session.created, then never reads again (a stalled
    provider: the TCP window fills up)."""
    async def handle(reader, writer):
        request = await reader.readuntil(b"\r\n\r\n")
        key = re.search(rb"(?i)sec-websocket-key: *(\S+)", request).group(1)
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        hello = SESSION_CREATED.encode()
        writer.write(bytes([0x81, len(hello)]) + hello)
        await writer.drain()
        await asyncio.sleep(30)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/realtime"
    finally:
        server.close()


async def test_a_provider_that_stops_reading_is_unavailable_not_a_hung_send():
    async with server_that_stops_reading() as url:
        provider = RealtimeProvider("local", ProviderSettings(url=url, health_url=None, send_timeout_s=0.3))
        async with provider.session(OPTIONS) as session:
            with pytest.raises(base.ProviderUnavailable, match="stalled"):
                for _ in range(500):  # bounded: the kernel buffers hold a few MB at most
                    await session.send_audio(bytes(100_000))
