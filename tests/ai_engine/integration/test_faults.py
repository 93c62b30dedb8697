"""Faults through the emulator: the engine never takes a call down with it, never leaks a file,
never leaves a channel or bridge behind."""
import anyio
import httpx
import numpy as np
import pytest

from engine_harness import eventually, peak_tone_level, running_rig
from fakes.realtime_server import FakeRealtimeServer
from local_ai_server.client import espeak

pytestmark = pytest.mark.anyio
GREETING_HZ = 440


def loud(pcm: bytes) -> bool:
    return max(np.abs(np.frombuffer(pcm, "<i2")), default=0) > 1000


def heard_since(call, t0):
    return call.heard_pcm()[max(0, int((t0 - call.t_answered) * 8000)) * 2 :]


async def answered_and_greeted(rig, exten="5551234"):
    call = await rig.emu.place_call(exten=exten, stasis_args=["default"])
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
    await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
    return call


async def assert_all_released(rig):
    await eventually(lambda: not rig.emu.bridges and not rig.engine_channels(), 8, "bridges and channels gone")
    await eventually(lambda: rig.media_files() == [], 8, "media files gone")
    await eventually(lambda: rig.engine.registry.calls == {}, 5, "call released in the engine")


async def test_provider_killed_mid_call_caller_hears_hold_prompt_then_call_continues_after_restart(tmp_path):
    fake = FakeRealtimeServer()
    async with running_rig(tmp_path, fake=fake) as rig:
        call = await answered_and_greeted(rig)
        t_kill = anyio.current_time()
        await fake.kill()
        # The hold prompt (a bundled file) plays within 2 s.
        await eventually(lambda: loud(heard_since(call, t_kill)), 2.0, "hold prompt heard within 2 s")
        await fake.start()
        await eventually(lambda: len(fake.sessions) == 2, 5, "engine reconnected")
        await eventually(lambda: not rig.emu.playbacks, 8, "prompt finished")
        t_ask = anyio.current_time()
        await call.say(espeak("Are you back?") + b"\x00" * 320 * 40)
        await eventually(lambda: loud(heard_since(call, t_ask)), 6, "answered after the restart")
        assert rig.engine.registry.calls, "the call went on"
        await call.hangup()
        await assert_all_released(rig)


async def test_provider_that_stays_down_ends_the_call_cleanly_to_the_failure_context(tmp_path):
    fake = FakeRealtimeServer()
    async with running_rig(tmp_path, fake=fake, calls={"provider_reconnect_s": 1.0}) as rig:
        call = await answered_and_greeted(rig)
        await fake.kill()
        await eventually(
            lambda: any(r["path"].endswith(f"/{call.channel_id}/continue") for r in rig.emu.rest_log), 8, "caller sent on"
        )
        cont = next(r for r in rig.emu.rest_log if r["path"].endswith("/continue"))
        assert cont["query"]["context"] == "ai-agent-unavailable"
        await assert_all_released(rig)


async def test_one_dropped_provider_session_does_not_disturb_another_call(tmp_path):
    fake = FakeRealtimeServer()
    async with running_rig(tmp_path, fake=fake) as rig:
        a = await answered_and_greeted(rig, "5551001")
        b = await answered_and_greeted(rig, "5551002")
        t_drop = anyio.current_time()
        await fake.drop_session(0)
        await eventually(lambda: loud(heard_since(a, t_drop)), 2.0, "call A hears the hold prompt")
        await anyio.sleep(1.0)
        assert not loud(heard_since(b, t_drop)), "call B heard nothing unexpected"
        t_ask = anyio.current_time()
        await b.say(espeak("Still there?") + b"\x00" * 320 * 40)
        await eventually(lambda: loud(heard_since(b, t_ask)), 6, "call B answered as usual")
        assert len(fake.sessions) == 3  # A reconnected, B kept its session
        await a.hangup()
        await b.hangup()
        await assert_all_released(rig)


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", r"/answer$"),
        ("POST", r"/bridges$"),
        ("POST", r"/bridges/[^/]+-call/addChannel$"),
        ("POST", r"/snoop/?[^/]*$"),
        ("POST", r"/bridges/[^/]+-capture/addChannel$"),
        ("POST", r"/channels/externalMedia$"),
        ("POST", r"/channels$"),  # the Local fork's originate (snoop_fork)
    ],
)
@pytest.mark.parametrize("status", [404, 409, 422, 500])
async def test_rest_error_at_any_setup_step_leaves_no_half_built_call(tmp_path, method, path, status):
    calls = {"audio_transport": "snoop_fork"} if path == r"/channels$" else {}
    async with running_rig(tmp_path, calls=calls) as rig:
        rig.emu.inject_rest_error(method, path, status, {"message": "injected"}, count=1)
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await eventually(lambda: not rig.engine.registry.calls and rig.emu.rest_log, 8, "call given up")
        # The caller is not left in silence: it was sent to the failure context (or hung up).
        await eventually(lambda: call.ended or any(r["path"].endswith("/continue") for r in rig.emu.rest_log), 5, "caller sent on")
        await eventually(lambda: not rig.emu.bridges, 5, "no bridge left")
        await eventually(lambda: not rig.engine_channels(), 5, "no leg left, caller not left in Stasis")
        assert rig.media_files() == []


async def test_asterisk_away_and_back_engine_reconnects_and_takes_new_calls_within_5s(tmp_path):
    async with running_rig(tmp_path) as rig:
        call = await answered_and_greeted(rig)
        await rig.emu.stop_http()
        await rig.engine.ari.wait_connected(False)
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{rig.engine.http_port}/health")).status_code == 503
        await call.hangup()  # ends while the engine cannot hear about it
        await anyio.sleep(1.0)
        await rig.emu.start_http()
        t_back = anyio.current_time()
        with anyio.fail_after(5):
            await rig.engine.ari.wait_connected()
        fresh = await rig.emu.place_call(exten="5551999", stasis_args=["default"])
        await fresh.wait_answered(5)
        assert anyio.current_time() - t_back < 5.0
        await eventually(lambda: len(rig.engine.registry.calls) == 1, 5, "the old call was cleaned up")
        await fresh.hangup()
        await assert_all_released(rig)


async def test_a_silent_caller_hears_goodbye_and_the_call_ends(tmp_path):
    async with running_rig(tmp_path, calls={"silence_timeout_s": 1.0}) as rig:
        call = await answered_and_greeted(rig)
        t0 = anyio.current_time()
        await call.wait_ended(10)
        assert loud(heard_since(call, t0)), "goodbye was played before the hang-up"
        assert any(r["method"] == "DELETE" and r["path"].endswith(call.channel_id) for r in rig.emu.rest_log)
        await assert_all_released(rig)


async def test_max_call_duration_ends_the_call_politely(tmp_path):
    async with running_rig(tmp_path, calls={"max_duration_s": 2.0}) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await call.wait_ended(10)
        await assert_all_released(rig)


async def test_shutdown_refuses_new_calls_ends_active_ones_and_deletes_files(tmp_path):
    async with running_rig(tmp_path, calls={"shutdown_timeout_s": 5.0}) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: rig.emu.playbacks, 8, "greeting playing")
        stray = rig.media_dir / "aie-0123456789abcdef-0001-00000000.wav"
        stray.write_bytes(b"RIFF")
        t0 = anyio.current_time()
        await rig.engine.shutdown()
        assert anyio.current_time() - t0 < 5.0
        assert any(r["path"].endswith(f"/{call.channel_id}/continue") for r in rig.emu.rest_log)
        assert not rig.emu.bridges and rig.media_files() == []
