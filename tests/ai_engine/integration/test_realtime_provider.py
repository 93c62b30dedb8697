"""The Realtime provider client against a fake server speaking the protocol over a WebSocket."""
import anyio
import numpy as np
import pytest

from ai_engine.config import ProviderSettings
from ai_engine.providers import base
from ai_engine.providers.realtime import RealtimeProvider
from fakes.realtime_server import FakeRealtimeServer

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
