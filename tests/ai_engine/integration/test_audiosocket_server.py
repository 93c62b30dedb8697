"""The AudioSocket server over real loopback sockets: binding by UUID, refusals, keepalive."""
import struct
import uuid

import anyio
import pytest

from ai_engine.config import AudioSocketSettings
from ai_engine.playback.media_clock import MediaClock
from ai_engine.transports.audiosocket import codec
from ai_engine.transports.audiosocket.server import AudioSocketServer

pytestmark = pytest.mark.anyio


class Owner:
    """A call's side of a bound connection: frames and the leg's end, as they arrive."""

    def __init__(self, conn, **attach):
        self.events = []
        self.ended = []
        self.got = anyio.Event()
        self.done = anyio.Event()
        conn.attach(self.on_event, self.on_close, **attach)

    def on_event(self, event):
        self.events.append(event)
        self.got.set()

    def on_close(self, end):
        self.ended.append(str(end))
        self.done.set()


class Binder:
    def __init__(self, known):
        self.known = set(known)
        self.bound = {}
        self._bound_events = {}

    def bound_event(self, u):
        return self._bound_events.setdefault(u, anyio.Event())

    def __call__(self, conn):
        if conn.uuid not in self.known:
            return "unknown UUID"
        if conn.uuid in self.bound:
            return "UUID already bound"
        self.bound[conn.uuid] = conn
        self.bound_event(conn.uuid).set()
        return None


async def start(tg, binder, **kw):
    settings = AudioSocketSettings(host="127.0.0.1", port=0, **kw)
    server = AudioSocketServer(settings, binder, max_connections=8)
    port = await tg.start(server.serve)
    return server, port


async def connect_bound(port, binder, known, with_uuid=b""):
    """A connection that sent its UUID frame (and `with_uuid` in the same write), once bound."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    await stream.send(codec.encode_uuid(known) + with_uuid)
    with anyio.fail_after(2):
        await binder.bound_event(known).wait()
    return stream


async def closed_by_server(stream, within=3.0) -> bool:
    with anyio.fail_after(within):
        try:
            while await stream.receive():
                pass
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
            return True
    return False


async def test_known_uuid_is_bound_and_receives_frames():
    known = uuid.uuid4()
    binder = Binder([known])
    async with anyio.create_task_group() as tg:
        server, port = await start(tg, binder)
        assert server.listening
        # FACT 9: the UUID frame often arrives together with the first audio frame.
        async with await connect_bound(port, binder, known, codec.encode_audio(b"\x10\x00" * 160)) as s:
            conn = binder.bound[known]
            owner = Owner(conn)  # frames that came with the UUID were kept for it
            with anyio.fail_after(2):
                await owner.got.wait()
            assert owner.events == [codec.Audio(codec.Kind.SLIN_8K, b"\x10\x00" * 160)]
            conn.send_audio(b"\x00\x00" * 160)
            assert await s.receive() == b"\x10\x01\x40" + b"\x00" * 320
            conn.release()
            assert await closed_by_server(s)
            assert owner.ended == []  # the owner released it: nothing to tell
        tg.cancel_scope.cancel()


async def test_a_batched_leg_is_read_at_its_owners_poll_and_still_hears_the_hangup():
    """The stream-mode playback leg drops Asterisk's audio, so it is read in batches: what comes
    after a read waits in the socket until the owner polls; nothing is lost, a hang-up included."""
    known = uuid.uuid4()
    binder = Binder([known])
    async with anyio.create_task_group() as tg:
        _, port = await start(tg, binder)
        async with await connect_bound(port, binder, known) as s:
            conn = binder.bound[known]
            owner = Owner(conn, keep_audio=False, batched=True)
            await s.send(codec.encode_audio(b"\x10\x00" * 160, codec.Kind.SLIN_16K))
            with anyio.fail_after(2):
                while conn.last_audio_kind is None:  # read (and dropped): reading now waits for poll()
                    await anyio.sleep(0.01)
            await s.send(codec.encode_hangup())
            await anyio.sleep(0.2)
            assert owner.events == []  # still in the socket: reading is paused until the poll
            conn.poll()
            with anyio.fail_after(2):
                await owner.got.wait()
            assert owner.events == [codec.Hangup()]
            assert conn.last_audio_kind is codec.Kind.SLIN_16K
            conn.release()
        tg.cancel_scope.cancel()


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(lambda: codec.encode_uuid(uuid.uuid4()), id="unknown-uuid"),
        pytest.param(lambda: b"\x01\x00\x05hello", id="malformed-uuid"),
        pytest.param(lambda: codec.encode_audio(b"\x00\x00" * 160), id="audio-before-uuid"),
        pytest.param(lambda: struct.pack(">BH", 0x10, 65535), id="oversized"),
        pytest.param(lambda: b"GET / HTTP/1.1\r\n\r\n", id="random-bytes"),
    ],
)
async def test_bad_first_frames_are_refused(first):
    binder = Binder([])
    async with anyio.create_task_group() as tg:
        _, port = await start(tg, binder)
        async with await anyio.connect_tcp("127.0.0.1", port) as s:
            await s.send(first())
            assert await closed_by_server(s)
        assert binder.bound == {}
        tg.cancel_scope.cancel()


async def test_second_connection_for_a_bound_uuid_is_refused():
    known = uuid.uuid4()
    binder = Binder([known])
    async with anyio.create_task_group() as tg:
        _, port = await start(tg, binder)
        async with await connect_bound(port, binder, known):
            async with await anyio.connect_tcp("127.0.0.1", port) as second:
                await second.send(codec.encode_uuid(known))
                assert await closed_by_server(second)
            binder.bound[known].release()
        tg.cancel_scope.cancel()


@pytest.mark.parametrize("sent", [b"", b"\x01", b"\x01\x00\x10" + b"\x42" * 7], ids=["nothing", "one-byte", "truncated-uuid"])
async def test_a_connection_that_never_sends_its_uuid_is_closed_after_the_timeout(sent):
    known = uuid.uuid4()
    binder = Binder([known])
    async with anyio.create_task_group() as tg:
        _, port = await start(tg, binder, uuid_timeout_s=0.3)
        async with await anyio.connect_tcp("127.0.0.1", port) as s:
            start_t = anyio.current_time()
            if sent:
                await s.send(sent)  # slowloris: a start, then nothing
            assert await closed_by_server(s, within=2)
            assert 0.25 <= anyio.current_time() - start_t < 1.5
        assert binder.bound == {}
        tg.cancel_scope.cancel()


async def test_keepalive_sends_silence_when_the_line_is_idle():
    known = uuid.uuid4()
    binder = Binder([known])
    async with anyio.create_task_group() as tg:
        _, port = await start(tg, binder)
        async with await connect_bound(port, binder, known) as s:
            conn = binder.bound[known]
            media = MediaClock(keepalive_s=0.2)
            media.add_leg(conn)
            tg.start_soon(media.run)
            dec = codec.Decoder()
            frames = []
            with anyio.move_on_after(0.75):
                while True:
                    frames += dec.feed(await s.receive())
            # Never a kind Asterisk would hang up on: only non-empty 0x10 frames of silence.
            assert 2 <= len(frames) <= 5
            assert all(f == codec.Audio(codec.Kind.SLIN_8K, b"\x00" * 320) for f in frames)
            conn.release()
        tg.cancel_scope.cancel()


async def test_a_bound_leg_that_stalls_mid_frame_ends_after_the_read_timeout_and_a_closed_one_is_told():
    known, other = uuid.uuid4(), uuid.uuid4()
    binder = Binder([known, other])
    async with anyio.create_task_group() as tg:
        _, port = await start(tg, binder)
        media = MediaClock(keepalive_s=0.1, read_timeout_s=0.5)
        tg.start_soon(media.run)
        async with await connect_bound(port, binder, known) as s, await connect_bound(port, binder, other) as s2:
            silent, closing = Owner(binder.bound[known]), Owner(binder.bound[other])
            media.add_leg(binder.bound[known])
            await s.send(b"\x10\x01\x40" + b"\x00" * 100)  # a truncated frame, then nothing
            t0 = anyio.current_time()
            await s2.aclose()  # the peer hangs up: the owner hears it at once
            with anyio.fail_after(2):
                await closing.done.wait()
                await silent.done.wait()
            assert closing.ended == ["closed"]
            assert silent.ended == ["timeout"] and 0.45 <= anyio.current_time() - t0 < 1.5
            binder.bound[known].release()
        tg.cancel_scope.cancel()


async def test_a_malformed_frame_on_a_bound_leg_tells_the_owner():
    known = uuid.uuid4()
    binder = Binder([known])
    async with anyio.create_task_group() as tg:
        _, port = await start(tg, binder)
        async with await connect_bound(port, binder, known) as s:
            owner = Owner(binder.bound[known])
            await s.send(codec.encode_audio(b"\x00\x00" * 160) + b"\x42\x00\x00")
            with anyio.fail_after(2):
                await owner.done.wait()
            assert owner.ended == [owner.ended[0]] and owner.ended[0].startswith("malformed: unknown frame kind 0x42")
            binder.bound[known].release()
            assert await closed_by_server(s)
        tg.cancel_scope.cancel()
