"""Every log line about a call carries its call id, also those logged from the AudioSocket
callbacks, which run outside the call's task (so the contextvar binding does not reach them)."""
import pytest
import structlog

from engine_harness import eventually, peak_tone_level, running_rig

pytestmark = pytest.mark.anyio


async def test_lines_logged_from_capture_leg_callbacks_carry_the_call_id(tmp_path):
    async with running_rig(tmp_path) as rig:
        with structlog.testing.capture_logs() as lines:
            call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
            await call.wait_answered(5)
            await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
            (call_id,) = rig.engine.registry.calls
            leg = next(c for c in rig.emu.channels.values() if getattr(c, "leg", None) is not None)
            leg.leg.send_dtmf("5")  # an AudioSocket DTMF frame on the capture leg
            await eventually(lambda: any(l["event"] == "call.dtmf" and l.get("via") == "audiosocket" for l in lines), 5, "dtmf logged")
            await call.hangup()
        dtmf = [l for l in lines if l["event"] == "call.dtmf" and l.get("via") == "audiosocket"]
        assert dtmf and all(l.get("call_id") == call_id for l in dtmf)
