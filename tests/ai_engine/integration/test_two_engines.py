"""Two engines on one Asterisk, each its own Stasis application and media port (the way to use
more than one core, docs/scaling.md): each serves the calls its application gets, and one
engine's reconnect and orphan sweep leave the other engine's call alone."""

import anyio
import pytest

from engine_harness import engine_settings, eventually, free_port, peak_tone_level, running_engine, running_rig

pytestmark = pytest.mark.anyio

SECOND_APP = "ai-agent-2"


async def test_each_engine_serves_its_app_and_a_sweep_spares_the_other_engines_call(tmp_path):
    async with running_rig(tmp_path) as rig:
        emu = rig.emu
        # One Asterisk, one sounds folder: both engines write their reply files there (names carry
        # the call id); each keeps its own call records.
        second_settings = engine_settings(
            tmp_path, emu.ari_url, rig.fake.url, free_port(), ari={"app": SECOND_APP},
            records={"data_dir": str(tmp_path / "second-data")},
        )
        async with running_engine(second_settings) as second:
            first_call = await emu.place_call(exten="5551001", stasis_args=["default"])
            second_call = await emu.place_call(exten="5551002", stasis_args=["default"], app=SECOND_APP)
            for call in (first_call, second_call):
                await call.wait_answered(5)
                await eventually(lambda c=call: peak_tone_level(c.heard_pcm(), 440) > 2000, 8, "the agent heard")
            assert len(rig.engine.manager.registry) == 1 and len(second.manager.registry) == 1
            # The second engine's legs are named "ai-agent-2-...": they start with the first
            # engine's prefix "ai-agent-" too, and no call of the first engine owns them.
            assert any(c.startswith(f"{SECOND_APP}-") for c in emu.channels)
            channels_before, bridges_before = set(emu.channels), set(emu.bridges)

            # The first engine loses ARI: on reconnect it sweeps what no call of its own owns.
            swept = anyio.Event()
            sweep = rig.engine.manager.sweep_orphans

            async def watched_sweep():
                await sweep()
                swept.set()

            rig.engine.manager.sweep_orphans = watched_sweep
            await rig.engine.ari.drop()
            with anyio.fail_after(10):
                await swept.wait()

            assert not second_call.ended and not first_call.ended
            assert set(emu.bridges) == bridges_before, "the sweep destroyed a bridge it does not own"
            assert channels_before <= set(emu.channels), "the sweep hung up a channel it does not own"
            heard = len(second_call.heard_pcm())
            await eventually(lambda: len(second_call.heard_pcm()) > heard + 8000, 3, "the second call goes on")

            for call in (first_call, second_call):
                await call.hangup()
            await eventually(lambda: not len(rig.engine.manager.registry) and not len(second.manager.registry),
                             10, "both calls torn down")
            await eventually(lambda: not emu.bridges, 10, "no bridge left")
