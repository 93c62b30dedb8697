"""A bug in handling one ARI event, or in the orphan sweep after a reconnect, costs neither the
events connection nor the next reconnects (issue 13 item 14)."""
import anyio
import pytest

from engine_harness import eventually, peak_tone_level, running_rig

pytestmark = pytest.mark.anyio


async def test_an_exception_handling_one_event_keeps_the_connection(tmp_path):
    async with running_rig(tmp_path) as rig:
        manager = rig.engine.manager
        real = manager.on_event
        broken = []

        def flaky(event):
            if event.get("type") == "StasisStart" and not broken:
                broken.append(event)
                raise RuntimeError("bug handling one event")
            real(event)

        rig.engine.ari._on_event = flaky
        await rig.emu.place_call(exten="5551001", stasis_args=["default"])  # its StasisStart hits the bug
        await eventually(lambda: broken, 5, "the bug hit")
        call = await rig.emu.place_call(exten="5551002", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "the next call is served")
        assert rig.engine.ari.connections == 1, "no reconnect"
        await call.hangup()


async def test_a_crash_in_the_orphan_sweep_does_not_make_every_reconnect_fail(tmp_path):
    async with running_rig(tmp_path) as rig:
        swept = anyio.Event()

        async def crashing_sweep():
            swept.set()
            raise RuntimeError("bug in the sweep")

        rig.engine.manager.sweep_orphans = crashing_sweep
        await rig.engine.ari.drop()  # the events WebSocket closes: reconnect, then the sweep runs
        with anyio.fail_after(5):
            await swept.wait()
        await anyio.sleep(0.3)  # a failing on_connected would have torn the connection down by now
        assert rig.engine.ari.connected and rig.engine.ari.connections == 2
        call = await rig.emu.place_call(exten="5551003", stasis_args=["default"])
        await call.wait_answered(5)
        await call.hangup()
