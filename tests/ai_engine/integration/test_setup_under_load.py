"""Call set-up when AudioSocket connections are scarce or slow (issue 13 items 12 and 15):
sockets that never send a UUID cannot take a real call's leg, a leg the engine originated gets
the set-up bound to send its UUID, and a call whose capture leg is refused is a failed set-up."""
import asyncio
import uuid as uuidlib

import anyio
import pytest

from ai_engine.observability import metrics
from asterisk_emulator.audiosocket_client import AudioSocketLeg
from engine_harness import eventually, peak_tone_level, running_rig

pytestmark = pytest.mark.anyio
GREETING_HZ = 440


def outcomes() -> dict[str, float]:
    return {o: metrics.CALLS.labels(o)._value.get() for o in ("completed", "setup_failed")}


async def greeted(rig):
    call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
    await call.wait_answered(5)
    await eventually(lambda: peak_tone_level(call.heard_pcm(), GREETING_HZ) > 2000, 8, "greeting heard")
    return call


async def test_idle_sockets_that_never_send_a_uuid_do_not_take_a_real_calls_leg(tmp_path):
    async with running_rig(
        tmp_path, calls={"max_concurrent_calls": 1}, audiosocket={"uuid_timeout_s": 30.0, "max_unidentified": 4}
    ) as rig:
        port = rig.engine.settings.audiosocket.port
        limit = 1 * 3 + 16  # every connection the engine would hold at once
        idle = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(limit + 2)]
        await eventually(lambda: rig.engine.audiosocket.unidentified_connections == 4, 5, "idle sockets beyond the budget refused")
        call = await greeted(rig)  # its capture leg got in
        assert rig.engine.registry.calls
        await call.hangup()
        for s in idle:
            await s.aclose()


class SlowUuidLeg(AudioSocketLeg):
    """Asterisk under load: the TCP connection comes at once, the UUID frame a while later."""

    uuid_delay_s = 1.0

    async def connect(self, timeout: float = 2.0) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), timeout)
        except (OSError, asyncio.TimeoutError):
            self.closed = True
            return False
        await asyncio.sleep(self.uuid_delay_s)  # nothing is written before the UUID (FACT 9)
        self.reader, self.writer = reader, writer
        self.log.t_connect = self.last_activity = self.loop.time()
        self._write(0x01, uuidlib.UUID(self.uuid).bytes)
        return True


async def test_a_leg_the_engine_originated_gets_the_setup_bound_to_send_its_uuid(tmp_path):
    async with running_rig(tmp_path, audiosocket={"uuid_timeout_s": 0.3}, calls={"setup_timeout_s": 5.0}) as rig:
        rig.emu.pbx.leg_class = SlowUuidLeg  # 1 s to the UUID: over the stranger bound, under set-up's
        before = outcomes()
        call = await greeted(rig)
        await call.hangup()
        await eventually(lambda: not rig.engine.registry.calls, 8, "call ended")
        assert outcomes()["completed"] == before["completed"] + 1


async def test_a_stranger_slow_to_send_its_uuid_is_still_refused_after_the_short_bound(tmp_path):
    async with running_rig(tmp_path, audiosocket={"uuid_timeout_s": 0.3}, calls={"setup_timeout_s": 5.0}) as rig:
        stranger = await anyio.connect_tcp("127.0.0.1", rig.engine.settings.audiosocket.port)
        with anyio.fail_after(3), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
            await stranger.receive()  # closed by the engine (0.3 s: nobody waits for a leg)
        await stranger.aclose()


class WrongUuidLeg(AudioSocketLeg):
    def _write(self, kind, payload):
        if kind == 0x01:
            payload = uuidlib.uuid4().bytes  # not the UUID the engine asked for: refused
        super()._write(kind, payload)


async def test_a_call_whose_capture_leg_is_refused_is_a_failed_setup_not_a_completed_call(tmp_path):
    async with running_rig(tmp_path) as rig:
        rig.emu.pbx.leg_class = WrongUuidLeg
        before = outcomes()
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: outcomes() != before, 10, "call ended")
        after = outcomes()
        assert after["setup_failed"] == before["setup_failed"] + 1
        assert after["completed"] == before["completed"]
