"""Call scenarios every media transport must pass through the Asterisk emulator (issue 11 item 4):
a call answered and its reply heard, barge-in in both playback modes, hang-up with nothing left,
two calls at once without cross-talk, a leg whose packets stop. `test_rtp_calls.py` and
`test_websocket_calls.py` run them with their transport's settings; each transport's own file
adds what only it has (strangers on a UDP port, chan_websocket control messages).

`overrides` are `running_rig` keyword overrides (e.g. `calls=..., rtp=...`); `legs(rig)` returns
the emulator's legs of the transport (objects with `.channel`, `.closed`, `.stop_sending()`);
`released(rig)` says the engine holds nothing of the transport any more (ports, sockets).
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import anyio
import numpy as np

from engine_harness import eventually, peak_tone_level, running_rig, tone, tone_level
from fakes.realtime_server import FakeRealtimeServer
from local_ai_server.client import espeak

GREETING_HZ = 440


async def answered_call(rig, exten="5551234"):
    call = await rig.emu.place_call(exten=exten, stasis_args=["default"])
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
    return call


def provider_input(fake: FakeRealtimeServer, index: int = 0) -> tuple[bytes, int]:
    """What the provider session received from the engine, and at which rate."""
    log = fake.sessions[index]
    pcm = b"".join(base64.b64decode(m["audio"]) for m in log.received if m["type"] == "input_audio_buffer.append")
    return pcm, log.input_rate


async def nothing_left(rig, released: Callable) -> None:
    await eventually(lambda: not rig.emu.channels and not rig.emu.bridges, what="channels and bridges gone")
    await eventually(lambda: not rig.engine.registry.calls, what="the call gone from the engine")
    await eventually(lambda: released(rig), what="transport resources released")


async def reply_heard(tmp_path, legs, released, caller_hz=600, **overrides) -> None:
    async with running_rig(tmp_path, **overrides) as rig:
        call = await answered_call(rig)
        assert legs(rig), "the call's legs use the transport"
        await call.say(tone(caller_hz, 1000) + b"\x00" * 320 * 40)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), caller_hz) > 2000, 8, "reply heard")
        await call.hangup()
        await nothing_left(rig, released)
        assert all(leg.closed for leg in legs(rig))


async def barge_in(tmp_path, mode: str, released, **overrides) -> None:
    fake = FakeRealtimeServer(greeting_ms=6000, chunk_ms=100, chunk_interval_s=0.1 if mode == "stream" else 0.0)
    overrides["playback"] = {**overrides.get("playback", {}), "downstream_mode": mode}
    async with running_rig(tmp_path, fake=fake, **overrides) as rig:
        call = await answered_call(rig)
        await anyio.sleep(0.6)  # past the 300 ms protection window
        t_speak = anyio.current_time()
        await call.say(espeak("Wait, I have a question.") + b"\x00" * 320 * 40)
        assert peak_tone_level(call.heard_between(t_speak + 0.5, t_speak + 1.5), GREETING_HZ) < 500, "agent stopped"
        assert any(m["type"] == "response.cancel" for m in fake.sessions[0].received)
        if mode == "file":
            assert [r for r in rig.emu.rest_log if r["method"] == "DELETE" and "/playbacks/" in r["path"]]
        else:
            assert not [r for r in rig.emu.rest_log if r["path"].endswith("/play")], "streamed, not played as files"
        t_end = anyio.current_time()
        await eventually(lambda: len(call.heard_pcm()) > (t_end + 1.0 - call.t_answered) * 16000, 5, "time passes")
        heard = np.frombuffer(call.heard_between(t_end, t_end + 1.0), "<i2")
        assert max(np.abs(heard), default=0) > 1000, "the caller's words are answered"
        await call.hangup()
        await nothing_left(rig, released)


async def two_calls_without_cross_talk(tmp_path, released, **overrides) -> None:
    async with running_rig(tmp_path, **overrides) as rig:
        a = await answered_call(rig, "5551001")
        b = await answered_call(rig, "5551002")
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.say, tone(600, 1000) + b"\x00" * 320 * 40)
            tg.start_soon(b.say, tone(900, 1000) + b"\x00" * 320 * 40)
        await eventually(lambda: peak_tone_level(a.heard_pcm(), 600) > 2000, 8, "A's reply heard by A")
        await eventually(lambda: peak_tone_level(b.heard_pcm(), 900) > 2000, 8, "B's reply heard by B")
        assert peak_tone_level(a.heard_pcm(), 900) < 300 and peak_tone_level(b.heard_pcm(), 600) < 300
        await a.hangup()
        await b.hangup()
        await nothing_left(rig, released)


async def silent_leg_ends_the_call(tmp_path, capture_leg, released, **overrides) -> None:
    overrides["audiosocket"] = {**overrides.get("audiosocket", {}), "read_timeout_s": 1.0}
    async with running_rig(tmp_path, **overrides) as rig:
        await answered_call(rig)
        capture_leg(rig).stop_sending()  # Asterisk's side goes quiet (e.g. a network cut)
        await eventually(lambda: not rig.engine.registry.calls, 8, "the engine ends the call on its read timeout")
        await eventually(lambda: released(rig), what="transport resources released")
        await eventually(lambda: not [c for c in rig.emu.channels.values() if c.kind == "extmedia"], what="legs hung up")
        assert not rig.emu.bridges


def tone_in_provider_input(fake: FakeRealtimeServer, hz: float) -> float:
    pcm, rate = provider_input(fake)
    return peak_tone_level(pcm, hz, rate=rate) if pcm else 0.0


__all__ = [
    "answered_call", "barge_in", "nothing_left", "provider_input", "reply_heard", "silent_leg_ends_the_call",
    "tone_in_provider_input", "tone_level", "two_calls_without_cross_talk",
]
