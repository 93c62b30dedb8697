"""Contract: the engine's Realtime client (ai_engine.providers.realtime) against the real
local-ai-server session (real WebSocket, fake models), in one process. Both sides speak through
realtime_protocol; this proves they agree on the wire, not only each with its own fake."""

import anyio
import numpy as np
import pytest
from local_ai_fakes import FakeLLM, fake_models, make_runtime, serve, silence, vowel

from ai_engine.config import ProviderSettings
from ai_engine.providers import base
from ai_engine.providers.realtime import RealtimeProvider

pytestmark = pytest.mark.anyio
OPTIONS = base.SessionOptions(instructions="You are the store's phone assistant.", voice=None, call_id="call-42")


async def collect_until(session, last: type, limit_s: float = 20.0) -> list:
    events = []
    with anyio.fail_after(limit_s):
        async for event in session.events():
            events.append(event)
            if isinstance(event, last):
                return events
    return events


async def test_greeting_and_a_caller_turn_round_trip_through_the_real_server():
    llm = FakeLLM(reply="We open at nine.")
    runtime = make_runtime(fake_models(llm=llm), server={"allow_no_auth": True})
    async with serve(runtime) as host:
        provider = RealtimeProvider("local", ProviderSettings(url=f"ws://{host}/v1/realtime", health_url=None))
        async with provider.session(OPTIONS) as session:
            await session.say("Hello, how can I help?")
            greeting = await collect_until(session, base.ResponseDone)
            assert isinstance(greeting[0], base.ResponseStarted)
            assert "".join(e.text for e in greeting if isinstance(e, base.AgentText)) == "Hello, how can I help?"
            assert greeting[-1].status == "completed"
            assert all(e.rate == 8000 for e in greeting if isinstance(e, base.AgentAudio))

            speech = vowel(1.2) + silence(1.5)
            for i in range(0, len(speech), 320):
                await session.send_audio(speech[i:i + 320])
            turn = await collect_until(session, base.TurnMetrics)  # it follows response.done
        kinds = [type(e) for e in turn]
        assert kinds.index(base.SpeechStarted) < kinds.index(base.SpeechStopped) < kinds.index(base.Transcript)
        assert any(isinstance(e, base.Transcript) and e.text == "What time does the store open tomorrow?" for e in turn)
        assert "".join(e.text for e in turn if isinstance(e, base.AgentText)) == "We open at nine."
        audio = b"".join(e.pcm for e in turn if isinstance(e, base.AgentAudio))
        assert len(audio) > 0 and np.frombuffer(audio, "<i2").std() > 1000
        assert [e.status for e in turn if isinstance(e, base.ResponseDone)] == ["completed"]
        assert turn[-1].values["first_audio_ms"] >= turn[-1].values["first_token_ms"] >= 0
        # The engine's instructions reached the prompt.
        assert "You are the store's phone assistant." in llm.prompts[-1][0]["content"]


async def test_a_cancel_stops_the_reply_and_nothing_of_it_arrives_after():
    runtime = make_runtime(fake_models(llm=FakeLLM(reply="One. Two. Three. Four. Five. Six.", token_delay=0.05)),
                           server={"allow_no_auth": True})
    async with serve(runtime) as host:
        provider = RealtimeProvider("local", ProviderSettings(url=f"ws://{host}/v1/realtime", health_url=None))
        async with provider.session(OPTIONS) as session:
            await session.send_audio(b"")  # nothing: harmless
            speech = vowel(1.0) + silence(1.5)
            for i in range(0, len(speech), 320):
                await session.send_audio(speech[i:i + 320])
            events, cancelled = [], False
            with anyio.fail_after(20):
                async for event in session.events():
                    if cancelled:
                        events.append(event)
                    if isinstance(event, base.AgentAudio) and not cancelled:
                        await session.cancel_response()
                        cancelled = True
                    if isinstance(event, base.ResponseDone):
                        break
        assert cancelled and events[-1].status == "cancelled"
        assert not any(isinstance(e, base.AgentAudio | base.AgentText) for e in events)


async def test_both_services_log_the_same_call_id(capsys):
    import json

    from voice_common.logs import configure_logging

    configure_logging("info", "json")
    async with serve(make_runtime(server={"allow_no_auth": True})) as host:
        provider = RealtimeProvider("local", ProviderSettings(url=f"ws://{host}/v1/realtime", health_url=None))
        async with provider.session(OPTIONS) as session:
            await session.say("Hello.")
            await collect_until(session, base.ResponseDone)
            provider_session_id = session.session_id
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    server_lines = [line for line in lines if line.get("logger", "").startswith("local_ai_server")
                    and line.get("session_id") == provider_session_id]
    engine_lines = [line for line in lines if line.get("event") == "provider.session_created"]
    assert server_lines and all(line.get("call_id") == "call-42" for line in server_lines)
    assert engine_lines and engine_lines[0]["provider_session_id"] == provider_session_id
