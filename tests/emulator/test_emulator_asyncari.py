"""asyncari 0.20.6 (the engine's ARI client) works against the emulator: it loads our Swagger
declarations, opens the events WebSocket, gets StasisStart (as a dict: docs/architecture.md §3 quirk)
and can answer the channel."""
from __future__ import annotations

import gc

import asyncari
import pytest

from asterisk_emulator import AsteriskEmulator

pytestmark = pytest.mark.anyio


# asyncari 0.20.6 never closes its own anyio memory streams; collect them here so that their
# ResourceWarnings stay with this test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_asyncari_connects_receives_stasis_start_and_answers():
    async with AsteriskEmulator(app="ai-agent", username="ai-agent", password="secret") as emu:
        async with asyncari.connect(emu.ari_url, "ai-agent", "ai-agent", "secret") as client:
            async with client.on_channel_event("StasisStart") as listener:
                call = await emu.place_call(stasis_args=["support"])
                async for objs, event in listener:
                    assert event.args == ["support"]
                    assert objs["channel"].id == call.channel_id
                    await objs["channel"].answer()
                    break
            await call.wait_answered(timeout=2)
            bridge = await client.bridges.create(type="mixing", name="ai-agent-call")
            await bridge.addChannel(channel=call.channel_id)
            assert emu.bridges[bridge.id].members[0].id == call.channel_id
            await call.hangup()
        assert [r["path"] for r in emu.rest_log][:2] == ["/ari/api-docs/resources.json",
                                                         "/ari/api-docs/channels.json"]
        del client, listener, objs, event, bridge
    gc.collect()
