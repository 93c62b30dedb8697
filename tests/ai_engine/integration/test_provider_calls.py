"""Each cloud provider through the Asterisk emulator, against its strict vendor fake: greeting,
a caller turn, barge-in, transcripts in the log, a vendor error, a dropped socket, and a missing
or refused API key. Vendor-specific checks (audio format, what the vendor was told) are in the
`Vendor` rows; the call flow is the same for all, as it must be for the engine."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import anyio
import httpx
import numpy as np
import pytest
from structlog.testing import capture_logs

from engine_harness import API_AUTH, eventually, peak_tone_level, running_rig, tone
from fakes.deepgram_agent import FakeDeepgramAgent
from fakes.gemini_live import FakeGeminiLive
from fakes.openai_realtime import FakeOpenAIRealtime
from fakes.vendor_kit import GREETING_HZ, FakeVendorServer

pytestmark = pytest.mark.anyio
CALLER_HZ = 600


@dataclass
class Vendor:
    kind: str
    fake: Callable[..., FakeVendorServer]
    audio_format: Callable[[FakeVendorServer], object]  # what the vendor was asked for
    expected_format: object
    told_of_barge_in: Callable[[FakeVendorServer], bool]
    send_error: Callable[[FakeVendorServer, int], object]


VENDORS = {
    "openai_realtime": Vendor(
        "openai_realtime",
        FakeOpenAIRealtime,
        lambda f: (f.sessions[0].input_format, f.sessions[0].output_format),
        ({"type": "audio/pcmu"}, {"type": "audio/pcmu"}),
        lambda f: "conversation.item.truncate" in f.sessions[0].json_received(),
        lambda f, i: f.send_error(i, "rate_limit_exceeded"),
    ),
    "deepgram_agent": Vendor(
        "deepgram_agent",
        FakeDeepgramAgent,
        lambda f: f.sessions[0].json_received("*")[0]["audio"],
        {"input": {"encoding": "mulaw", "sample_rate": 8000}, "output": {"encoding": "mulaw", "sample_rate": 8000, "container": "none"}},
        lambda f: f.sessions[0].cancelled > 0,  # it heard the caller and stopped its reply (UserStartedSpeaking)
        lambda f, i: f.send_error(i),
    ),
    "gemini_live": Vendor(
        "gemini_live",
        FakeGeminiLive,
        lambda f: (f.sessions[0].input_rate, f.output_rate),
        (16000, 24000),
        lambda f: f.sessions[0].cancelled > 0,  # its activity detection heard the caller: `interrupted`
        lambda f, i: f.send_error(i),
    ),
}


def provider_overrides(vendor: Vendor, fake: FakeVendorServer, *, key: str | None = "fake", **extra) -> dict:
    entry = {"kind": vendor.kind, "url": fake.url, "api_key_env": "", **extra}
    if key is not None:
        entry["api_key"] = fake.key if key == "fake" else key
    return {
        "providers": {"cloud": entry},
        "personas": {"default": {"provider": "cloud", "greeting": "Hello from the cloud", "instructions": "Be brief."}},
    }


def loud(pcm: bytes) -> bool:
    return max(np.abs(np.frombuffer(pcm, "<i2")), default=0) > 1000


def heard_since(call, t0):
    return call.heard_pcm()[max(0, int((t0 - call.t_answered) * 8000)) * 2 :]


async def greeted(rig):
    call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
    await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
    return call


async def answered(call, t0=None):
    t0 = anyio.current_time() if t0 is None else t0
    await call.say(tone(CALLER_HZ, 600) + b"\x00" * 320 * 40)
    await eventually(lambda: peak_tone_level(heard_since(call, t0), CALLER_HZ) > 2000, 8, "the caller's turn answered")


@pytest.fixture(params=sorted(VENDORS))
def vendor(request) -> Vendor:
    return VENDORS[request.param]


async def test_greeting_a_caller_turn_and_both_transcripts_in_the_log(tmp_path, vendor):
    fake = vendor.fake()
    with capture_logs() as logs:
        async with running_rig(tmp_path, fake=fake, **provider_overrides(vendor, fake)) as rig:
            call = await greeted(rig)
            await answered(call)
            assert vendor.audio_format(fake) == vendor.expected_format
            assert not any(s.errors for s in fake.sessions), [s.errors for s in fake.sessions]
            await call.hangup()
            await eventually(lambda: not rig.engine.registry.calls, 5, "call ended")
    events = [entry["event"] for entry in logs]
    caller = [e["text"] for e in logs if e["event"] == "caller.transcript"]
    assert caller and "ms of speech" in caller[0], "the vendor's caller transcript is logged"
    assert "agent.text" in events, "the agent's words are logged"
    assert len(fake.sessions) == 1 and "provider.lost" not in events


async def test_barge_in_stops_our_audio_and_the_vendor_knows(tmp_path, vendor):
    fake = vendor.fake(greeting_ms=6000, chunk_ms=100, chunk_interval_s=0.08)
    async with running_rig(tmp_path, fake=fake, **provider_overrides(vendor, fake)) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
        await anyio.sleep(0.6)  # past the protection window
        t_speak = anyio.current_time()
        await call.say(tone(CALLER_HZ, 600) + b"\x00" * 320 * 40)
        await eventually(lambda: peak_tone_level(heard_since(call, t_speak), CALLER_HZ) > 2000, 8, "the caller answered")
        await anyio.sleep(0.5)
        after = call.heard_between(t_speak + 1.0, anyio.current_time())
        assert peak_tone_level(after, GREETING_HZ) < 500, "the greeting stopped when the caller spoke"
        assert vendor.told_of_barge_in(fake)
        await call.hangup()


async def test_a_vendor_error_gives_the_hold_prompt_and_a_new_session(tmp_path, vendor):
    fake = vendor.fake()
    async with running_rig(tmp_path, fake=fake, **provider_overrides(vendor, fake)) as rig:
        call = await greeted(rig)
        t_error = anyio.current_time()
        await vendor.send_error(fake, 0)
        await eventually(lambda: loud(heard_since(call, t_error)), 2.0, "hold prompt heard within 2 s")
        await eventually(lambda: len(fake.sessions) == 2, 5, "a new vendor session")
        await eventually(lambda: not rig.emu.playbacks, 8, "prompt finished")
        await answered(call)
        assert rig.engine.registry.calls, "the call went on"
        await call.hangup()


async def test_socket_dropped_mid_call_hold_prompt_then_reconnected(tmp_path, vendor):
    fake = vendor.fake()
    async with running_rig(tmp_path, fake=fake, **provider_overrides(vendor, fake)) as rig:
        call = await greeted(rig)
        t_drop = anyio.current_time()
        await fake.drop_session(0)
        await eventually(lambda: loud(heard_since(call, t_drop)), 2.0, "hold prompt heard within 2 s")
        await eventually(lambda: len(fake.sessions) == 2, 5, "reconnected")
        await eventually(lambda: not rig.emu.playbacks, 8, "prompt finished")
        await answered(call)
        await call.hangup()


@pytest.mark.parametrize("key", [None, "not-the-key"], ids=["missing", "rejected"])
async def test_missing_or_refused_key_health_says_so_and_calls_go_to_the_failure_context(tmp_path, vendor, key):
    fake = vendor.fake()
    async with running_rig(tmp_path, fake=fake, **provider_overrides(vendor, fake, key=key)) as rig:
        async with httpx.AsyncClient(base_url=rig.http_url, headers=API_AUTH) as http:
            call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
            await eventually(
                lambda: any(r["path"].endswith(f"/{call.channel_id}/continue") for r in rig.emu.rest_log), 5, "caller sent on"
            )
            cont = next(r for r in rig.emu.rest_log if r["path"].endswith(f"/{call.channel_id}/continue"))
            assert cont["query"]["context"] == "ai-agent-unavailable"
            assert not loud(call.heard_pcm()), "no hold prompt: the key will not get better by waiting"
            health = await http.get("/health")
            state = health.json()["providers"]["cloud"]
            assert health.status_code == 503 and state["ready"] is False
            assert ("no API key" in state["reason"]) if key is None else ("refused" in state["reason"])
            assert "not-the-key" not in health.text and fake.key not in health.text
        if key is None:
            assert fake.sessions == [], "nothing was sent to the vendor without a key"
