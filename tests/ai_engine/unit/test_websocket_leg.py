"""The chan_websocket leg at the socket edge, against a small stand-in for Asterisk's /media/<id>:
MEDIA_START awaited, frames and DTMF to the owner, XOFF/XON as a write pause, batched reading, bounds."""
import asyncio

import anyio
import pytest
from wsproto.frame_protocol import FrameProtocol
from wsproto.utilities import generate_accept_token
from websockets.asyncio.server import serve

from ai_engine.transports.audiosocket import codec as frames
from ai_engine.transports.leg import EndKind
from ai_engine.transports.websocket.leg import connect, media_url

pytestmark = pytest.mark.anyio
START = "MEDIA_START connection_id:abc channel:WebSocket/INCOMING/0x1 channel_id:1.2 format:slin16 optimal_frame_size:640 ptime:20"


class Asterisk:
    def __init__(self, script):
        self.script = script
        self.received = []
        self.paths = []
        self.close_code = None

    async def handler(self, ws):
        self.paths.append(ws.request.path)
        await ws.send(START)
        await self.script(ws)
        async for msg in ws:
            self.received.append(msg)
        self.close_code = ws.close_code

    async def __aenter__(self):
        self.server = await serve(self.handler, "127.0.0.1", 0).__aenter__()
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/media/"
        return self

    async def __aexit__(self, *exc):
        await self.server.__aexit__(*exc)


async def until(cond):
    with anyio.fail_after(3):
        while not cond():
            await anyio.sleep(0.005)


def test_media_url_comes_from_the_ari_url():
    assert media_url("http://pbx.example:8088/", None) == "ws://pbx.example:8088/media/"
    assert media_url("https://pbx.example:8089/", None) == "wss://pbx.example:8089/media/"
    assert media_url("http://x/", "ws://y:1/m") == "ws://y:1/m/"


async def test_frames_dtmf_and_flow_control_reach_the_owner():
    async def script(ws):
        await ws.send(b"\x01\x00" * 320)
        await ws.send("DTMF_END digit:5 channel_id:1.2")
        await ws.send("MEDIA_XOFF")

    async with Asterisk(script) as asterisk:
        leg = await connect(asterisk.url, "abc", "slin16", timeout_s=2, max_message=65536)
        assert asterisk.paths == ["/media/abc"] and leg.audio_kind == frames.Kind.SLIN_16K
        got = []
        leg.attach(got.append, lambda r: None)
        await until(lambda: len(got) == 2 and leg.write_paused_since is not None)
        assert got == [frames.Audio(frames.Kind.SLIN_16K, b"\x01\x00" * 320), frames.Dtmf("5")]
        leg.send_audio(leg.silence_frame())
        leg.send_audio(b"\x00\x00" * 160, frames.Kind.SLIN_8K)  # resampled to the leg's 16 kHz
        leg.send_command("GET_STATUS")
        await until(lambda: len(asterisk.received) >= 2)
        assert asterisk.received[0] == b"\x00" * 640 and "GET_STATUS" in asterisk.received
        leg.release()
        await until(lambda: asterisk.close_code is not None)
        assert asterisk.close_code == 1000


async def test_a_playback_leg_read_in_batches_sees_what_came_only_at_its_polls():
    go_on = anyio.Event()

    async def script(ws):
        await go_on.wait()
        await ws.send(b"\x01\x00" * 320)  # the bridge's mix: dropped
        await anyio.sleep(0.05)
        await ws.send("MEDIA_XOFF")

    async with Asterisk(script) as asterisk:
        leg = await connect(asterisk.url, "abc", "slin16", timeout_s=2, max_message=65536)
        got = []
        with pytest.raises(ValueError):
            leg.attach(got.append, lambda r: None, batched=True)  # batches only for dropped audio
        leg.attach(got.append, lambda r: None, keep_audio=False, batched=True)
        go_on.set()
        await anyio.sleep(0.3)
        assert leg.write_paused_since is None  # reading paused after the audio's read
        leg.poll()
        await until(lambda: leg.write_paused_since is not None)
        assert got == []
        leg.release()


async def test_a_fragmented_message_and_a_ping_are_still_understood():
    async def script(ws):
        await ws.send([b"\x01\x00" * 100, b"\x02\x00" * 220])  # one message in two frames
        await ws.ping(b"p")
        await ws.send(b"\x03\x00" * 320)

    async with Asterisk(script) as asterisk:
        leg = await connect(asterisk.url, "abc", "slin16", timeout_s=2, max_message=65536)
        got = []
        leg.attach(got.append, lambda r: None)
        await until(lambda: len(got) == 2)
        assert got == [
            frames.Audio(frames.Kind.SLIN_16K, b"\x01\x00" * 100 + b"\x02\x00" * 220),
            frames.Audio(frames.Kind.SLIN_16K, b"\x03\x00" * 320),
        ]
        leg.release()


async def test_frames_in_the_same_read_as_the_upgrade_answer_are_not_lost():
    """Asterisk may write its 101 answer, MEDIA_START and the first audio in one go."""

    async def asterisk(reader, writer):
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(l.split(b":", 1)[1].strip() for l in request.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key"))
        accept = generate_accept_token(key)
        server = FrameProtocol(client=False, extensions=[])
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            + server.send_data(START) + server.send_data(b"\x05\x00" * 320)
        )
        await writer.drain()
        await reader.read()  # until the leg closes
        writer.close()

    srv = await asyncio.start_server(asterisk, "127.0.0.1", 0)
    async with srv:
        url = f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}/media/"
        leg = await connect(url, "abc", "slin16", timeout_s=2, max_message=65536)
        got = []
        leg.attach(got.append, lambda r: None)
        await until(lambda: got)
        assert got == [frames.Audio(frames.Kind.SLIN_16K, b"\x05\x00" * 320)]
        leg.release()


@pytest.mark.parametrize("bad, why", [(b"\x01" * 3, "whole samples"), (b"\x00" * 70000, "over")])
async def test_a_bad_message_ends_the_leg_as_malformed(bad, why):
    async def script(ws):
        await ws.send(bad)

    async with Asterisk(script) as asterisk:
        leg = await connect(asterisk.url, "abc", "slin16", timeout_s=2, max_message=65536)
        ended = []
        leg.attach(lambda e: None, ended.append)
        await until(lambda: ended)
        assert ended[0].kind is EndKind.MALFORMED and why in ended[0].detail


async def test_no_media_start_in_time_is_a_timeout():
    async def handler(ws):
        await anyio.sleep(1)

    async with serve(handler, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/media/"
        with pytest.raises(TimeoutError):
            await connect(url, "abc", "slin16", timeout_s=0.3, max_message=65536)
