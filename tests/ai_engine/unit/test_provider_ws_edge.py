"""What the cloud providers share: the bounded caller-audio outbox, refusals told apart from
outages, and mu-law as bytes."""
import numpy as np
import pytest
from websockets.asyncio.server import serve

from ai_engine.providers import base
from ai_engine.providers.ws_edge import MAX_QUEUED_FRAMES, KeyState, Outbox, open_ws, ulaw_decode, ulaw_encode

pytestmark = pytest.mark.anyio


async def test_outbox_is_bounded_drops_the_oldest_and_batches():
    box = Outbox("p")
    for i in range(MAX_QUEUED_FRAMES + 10):
        box.push(bytes([i % 256]) * 2)
    assert box.dropped == 10
    first = await box.take(5)
    assert first == b"".join(bytes([i]) * 2 for i in range(10, 15)), "the oldest frames went first"


async def test_refused_key_is_rejected_and_remembered_an_outage_is_not():
    keys = KeyState("p", "k")

    def refuse(connection, request):
        return connection.respond(401, "no\n")

    async with serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(base.ProviderRejected):
            await open_ws(keys, f"ws://127.0.0.1:{port}/", {}, 2, 65536)
    assert "refused" in keys.not_ready_reason
    with pytest.raises(base.ProviderUnavailable) as lost:
        await open_ws(keys, f"ws://127.0.0.1:{port}/", {}, 2, 65536)  # nobody listens any more
    assert not isinstance(lost.value, base.ProviderRejected)
    with pytest.raises(base.ProviderRejected, match="no API key"):
        KeyState("p", None).require()


def test_mulaw_bytes_round_trip_within_g711_precision():
    pcm = (np.sin(np.arange(160) / 5) * 12000).astype("<i2").tobytes()
    coded = ulaw_encode(pcm)
    assert len(coded) == 160
    back = np.frombuffer(ulaw_decode(coded), "<i2").astype(int)
    assert np.max(np.abs(back - np.frombuffer(pcm, "<i2"))) < 12000 * 0.04
