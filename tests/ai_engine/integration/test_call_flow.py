"""End to end through the Asterisk emulator: the engine answers, captures the caller through a
snoop + media fork, gets a reply from a Realtime provider and plays it on the bridge."""
import uuid

import anyio
import httpx
import pytest

from ai_engine.transports.audiosocket import codec
from engine_harness import API_AUTH, eventually, peak_tone_level, running_rig, tone
from fakes.realtime_server import FakeRealtimeServer

pytestmark = pytest.mark.anyio

GREETING_HZ = 440  # the fake provider's greeting tone


async def wait_for_greeting(rig, call, timeout=8.0):
    """The greeting (a 440 Hz tone from the fake provider) was heard and has finished."""
    await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, timeout, "greeting heard")
    await eventually(lambda: not rig.emu.playbacks, timeout, "greeting finished")


async def speak_and_wait_for_reply(call, freq, ms=600, timeout=8.0):
    await call.say(tone(freq, ms) + b"\x00" * 320 * 40)
    with anyio.fail_after(timeout):
        while peak_tone_level(call.heard_pcm()[-8000 * 4 :], freq) < 2000:
            await anyio.sleep(0.05)


async def test_caller_speaks_and_hears_the_reply_played_on_the_bridge_then_files_are_gone(tmp_path):
    async with running_rig(tmp_path) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await wait_for_greeting(rig, call)
        await speak_and_wait_for_reply(call, 600)
        heard = call.heard_pcm()
        assert peak_tone_level(heard, 600) > 2000, "the reply (the fake echoes the caller) was played"
        # Played on the call bridge, never on the caller channel (FACTS 25-26).
        plays = [r for r in rig.emu.rest_log if r["method"] == "POST" and r["path"].endswith("/play")]
        assert plays and all("/bridges/" in r["path"] for r in plays)
        await eventually(lambda: rig.media_files() == [], what="played files deleted")
        # The capture leg never hears the agent: the fake saw no greeting tone in caller audio.
        await call.hangup()
        await eventually(lambda: not rig.emu.bridges and not rig.emu.channels, what="everything torn down")
        await eventually(lambda: rig.engine.registry.calls == {}, 5, "call released in the engine")


async def test_caller_hangs_up_mid_reply_and_everything_is_released(tmp_path):
    fake = FakeRealtimeServer(greeting_ms=4000)  # a long greeting: hang up while it plays
    async with running_rig(tmp_path, fake=fake) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: rig.emu.playbacks, what="greeting playing")
        await call.hangup()
        await eventually(lambda: not rig.emu.playbacks, what="playback stopped")
        await eventually(lambda: not rig.emu.bridges and not rig.emu.channels, what="bridges and legs gone")
        await eventually(lambda: rig.media_files() == [], what="files deleted")
        await eventually(lambda: rig.engine.registry.calls == {}, 5, "call released in the engine")
        assert len(fake.sessions) == 1  # provider session opened once, closed at hang-up


async def test_two_calls_at_once_each_hear_only_their_own_reply(tmp_path):
    async with running_rig(tmp_path) as rig:
        a = await rig.emu.place_call(exten="5551001", stasis_args=["default"])
        b = await rig.emu.place_call(exten="5551002", stasis_args=["default"])
        await a.wait_answered(5)
        await b.wait_answered(5)
        await wait_for_greeting(rig, a)
        await wait_for_greeting(rig, b)
        async with anyio.create_task_group() as tg:
            tg.start_soon(speak_and_wait_for_reply, a, 600)
            tg.start_soon(speak_and_wait_for_reply, b, 1000)
        ha, hb = a.heard_pcm(), b.heard_pcm()
        assert peak_tone_level(ha, 600) > 2000 and peak_tone_level(ha, 1000) < 800
        assert peak_tone_level(hb, 1000) > 2000 and peak_tone_level(hb, 600) < 800
        await a.hangup()
        await b.hangup()
        await eventually(lambda: not rig.emu.channels and not rig.emu.bridges, what="both torn down")


async def test_unknown_uuid_on_the_audiosocket_port_is_refused_and_calls_go_on(tmp_path):
    async with running_rig(tmp_path) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await wait_for_greeting(rig, call)
        async with await anyio.connect_tcp("127.0.0.1", rig.engine.deps.audiosocket_port) as intruder:
            await intruder.send(codec.encode_uuid(uuid.uuid4()) + codec.encode_audio(b"\x7f\x00" * 160))
            with anyio.fail_after(3):
                with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError)):
                    while True:
                        await intruder.receive()
        await speak_and_wait_for_reply(call, 600)
        await call.hangup()


async def test_ari_websocket_dropped_and_restored_mid_call(tmp_path):
    async with running_rig(tmp_path) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await wait_for_greeting(rig, call)
        await rig.emu.drop_events_ws()
        await rig.engine.ari.wait_connected(False)
        with anyio.fail_after(5):
            await rig.engine.ari.wait_connected(True)
        # The call survived the outage: its reply still plays.
        await speak_and_wait_for_reply(call, 600)
        await call.hangup()
        await eventually(lambda: not rig.emu.channels and not rig.emu.bridges, what="torn down")


async def test_a_call_that_ends_while_the_websocket_is_down_is_cleaned_up_after_reconnect(tmp_path):
    async with running_rig(tmp_path) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: len(rig.emu.bridges) == 2, what="media path built")
        rig.emu.set_ws_refused(True)
        await rig.emu.drop_events_ws()
        await rig.engine.ari.wait_connected(False)
        await call.hangup()  # its StasisEnd is dropped: no WebSocket (FACT 37)
        rig.emu.set_ws_refused(False)
        with anyio.fail_after(5):
            await rig.engine.ari.wait_connected(True)
        await eventually(lambda: not rig.engine.registry.calls, what="call ended by resync")
        await eventually(lambda: not rig.emu.bridges and not rig.emu.channels, what="bridges and legs removed")


async def test_calls_over_the_limit_get_a_clear_refusal(tmp_path):
    async with running_rig(tmp_path, calls={"max_concurrent_calls": 1}) as rig:
        first = await rig.emu.place_call(exten="5551001", stasis_args=["default"])
        await first.wait_answered(5)
        second = await rig.emu.place_call(exten="5551002", stasis_args=["default"])
        await eventually(
            lambda: any(r["path"].endswith("/continue") for r in rig.emu.rest_log), what="refused call continued"
        )
        cont = [r for r in rig.emu.rest_log if r["path"].endswith("/continue")][0]
        assert second.channel_id in cont["path"] and cont["query"].get("context") == "ai-agent-overflow"
        await first.hangup()


async def test_health_reports_readiness_and_metrics_count_calls(tmp_path):
    async with running_rig(tmp_path) as rig:
        async with httpx.AsyncClient(base_url=rig.http_url, headers=API_AUTH) as http:
            health = await http.get("/health")
            assert health.status_code == 200
            body = health.json()
            assert body["ari_connected"] and body["audiosocket_listening"] and body["active_calls"] == 0
            assert body["providers"] == {"local": {"ready": True}}
            call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
            await call.wait_answered(5)
            await eventually(lambda: rig.engine.registry.calls, what="call registered")
            assert (await http.get("/health")).json()["active_calls"] == 1
            await call.hangup()
            await eventually(lambda: not rig.engine.registry.calls, what="call ended")
            text = (await http.get("/metrics")).text
            assert 'ai_engine_calls_total{outcome="completed"}' in text
            await rig.emu.stop_http()
            await rig.engine.ari.wait_connected(False)
            down = await http.get("/health")
            assert down.status_code == 503 and down.json()["ari_connected"] is False
            assert "password" not in down.text


async def test_echo_provider_plays_the_caller_back_in_stream_mode(tmp_path):
    providers = {"local": {"kind": "echo", "url": "ws://unused", "health_url": None}}
    async with running_rig(tmp_path, providers=providers, playback={"downstream_mode": "stream"},
                           personas={"default": {"greeting": ""}}, barge_in={"enabled": False}) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await call.say(tone(700, 600))
        await eventually(lambda: peak_tone_level(call.heard_pcm(), 700) > 2000, 5, "own voice heard back")
        await call.hangup()


def playback_failures(metrics_text: str, reason: str) -> float:
    prefix = f'ai_engine_playback_failures_total{{reason="{reason}"}} '
    return sum(float(line[len(prefix):]) for line in metrics_text.splitlines() if line.startswith(prefix))


async def test_a_reply_asterisk_cannot_play_is_counted_its_file_deleted_and_the_call_goes_on(tmp_path):
    # A common install mistake: Asterisk looks for the files under another name than the folder
    # the engine writes (playback.sound_prefix). Asterisk answers PlaybackFinished "failed" (FACT 51).
    async with running_rig(tmp_path, playback={"sound_prefix": "not-the-shared-folder"}) as rig:
        async with httpx.AsyncClient(base_url=rig.http_url) as http:
            before = playback_failures((await http.get("/metrics")).text, "failed")
            call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
            await call.wait_answered(5)

            async def failures() -> float:
                return playback_failures((await http.get("/metrics")).text, "failed") - before

            with anyio.fail_after(8):
                while await failures() < 1:  # the greeting
                    await anyio.sleep(0.05)
            await eventually(lambda: rig.media_files() == [], what="the unplayable file deleted")
            await call.say(tone(600, 600) + b"\x00" * 320 * 40)
            with anyio.fail_after(8):
                while await failures() < 2:  # the caller was still answered (and failed again)
                    await anyio.sleep(0.05)
            assert len(rig.engine.registry.calls) == 1 and not call.ended, "the call goes on"
            await eventually(lambda: rig.media_files() == [], what="no file left")
            await call.hangup()
            await eventually(lambda: not rig.emu.bridges and not rig.emu.channels, what="everything torn down")
