"""Turn latency is labelled with the downstream mode that really carried the reply: after a
stream leg dies and the call falls back to files, turns count as "file", not "stream"."""
import httpx
import pytest
from prometheus_client import REGISTRY

from engine_harness import ARI_PASSWORD, eventually, peak_tone_level, running_rig
from local_ai_server.client import espeak

pytestmark = pytest.mark.anyio


def turns(mode: str) -> float:
    return REGISTRY.get_sample_value("ai_engine_turn_latency_seconds_count", {"stage": "total", "mode": mode}) or 0.0


async def test_turns_after_a_fall_back_to_files_are_labelled_file(tmp_path):
    async with running_rig(tmp_path, playback={"downstream_mode": "stream"}) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
        leg_id = next(c for c in rig.emu.channels if c.endswith("-playback"))
        async with httpx.AsyncClient(auth=("ai-agent", ARI_PASSWORD)) as http:  # the stream leg dies
            assert (await http.delete(f"{rig.emu.ari_url}ari/channels/{leg_id}")).status_code == 204
        stream_before, file_before = turns("stream"), turns("file")
        await call.say(espeak("Hello, can you hear me?") + b"\x00" * 320 * 40)
        await eventually(lambda: turns("file") > file_before, 10, "a turn answered with files")
        assert turns("stream") == stream_before
        await call.hangup()
