"""Turn latency is labelled with the downstream mode that really carried the reply: after a
stream leg dies and the call falls back to files, turns count as "file", not "stream"."""
import httpx
import pytest
import structlog
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


async def test_each_stream_turn_is_one_log_line_with_its_stages_and_the_call_id(tmp_path):
    """In stream mode the turn ends in a media-clock tick, outside the call's task: its log line
    must still say which call it belongs to, with every stage, as /metrics does."""
    async with running_rig(tmp_path, playback={"downstream_mode": "stream"}) as rig:
        with structlog.testing.capture_logs() as lines:
            call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
            await call.wait_answered(5)
            await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
            (call_id,) = rig.engine.registry.calls
            before = turns("stream")
            await call.say(espeak("Hello, can you hear me?") + b"\x00" * 320 * 40)
            await eventually(lambda: turns("stream") > before, 10, "a turn answered in stream mode")
            await eventually(lambda: any(l["event"] == "turn.latency" for l in lines), 5, "turn logged")
            await call.hangup()
        turn = [l for l in lines if l["event"] == "turn.latency"]
        assert turn and all(l.get("call_id") == call_id and l["mode"] == "stream" for l in turn)
        assert "total_ms" in turn[0] and "transcript_ms" in turn[0]
