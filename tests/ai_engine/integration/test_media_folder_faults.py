"""The media folder vanishing under the engine (an unmounted volume) ends no call and never the
engine; /health says the folder is not writable (issue 13 item 8)."""
import shutil

import httpx
import pytest

from engine_harness import API_AUTH, eventually, peak_tone_level, running_rig
from local_ai_server.client import espeak

pytestmark = pytest.mark.anyio


async def greeted(rig, exten):
    call = await rig.emu.place_call(exten=exten, stasis_args=["default"])
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
    await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
    return call


async def test_media_folder_gone_mid_call_ends_no_call_and_health_reports_it(tmp_path):
    async with running_rig(tmp_path) as rig:
        first = await greeted(rig, "5551001")
        other = await greeted(rig, "5551002")
        shutil.rmtree(rig.media_dir)
        await first.say(espeak("Are you there?") + b"\x00" * 320 * 40)  # its reply cannot be written
        await eventually(lambda: len(rig.engine.registry.calls) == 2, 2, "both calls still up")
        await first.hangup()  # teardown finds no folder to clean
        await eventually(lambda: len(rig.engine.registry.calls) == 1, 8, "first call ended")
        async with httpx.AsyncClient(headers=API_AUTH) as http:
            health = await http.get(f"{rig.http_url}/health")
        assert health.status_code == 503 and health.json()["media_writable"] is False
        assert rig.engine.registry.calls, "the other call goes on"
        await other.hangup()
        await eventually(lambda: not rig.engine.registry.calls, 8, "other call ended")
        rig.media_dir.mkdir(parents=True)
        third = await greeted(rig, "5551003")  # the engine still takes calls
        await third.hangup()
