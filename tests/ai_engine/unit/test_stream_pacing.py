"""Stream mode pacing, buffering and barge-in with a fake clock (a simulated minute in ms).

Streams are paced by the engine's shared media clock (`MediaClock`), driven here by a fake clock."""
import anyio
import pytest

from fake_clock import FakeClock
from ai_engine.playback.media_clock import MediaClock
from ai_engine.playback.stream_buffer import Pacer, StreamBuffer
from ai_engine.playback.stream_output import StreamFailed, StreamOutput
from ai_engine.transports.audiosocket import codec

pytestmark = pytest.mark.anyio


class FakeLeg:
    """Stands in for an AudioSocketConnection: records what is sent, at which (fake) time."""

    write_paused_since = None
    last_audio_kind = None

    def __init__(self, clock, fail_after_frames=None):
        self.clock = clock
        self.sent: list[tuple[float, bytes, codec.Kind]] = []
        self.fail_after_frames = fail_after_frames
        self.done = anyio.Event()
        self.stop_after = None
        self.on_event = self.on_close = None

    def send_audio(self, pcm, kind=None):
        if self.fail_after_frames is not None and len(self.sent) >= self.fail_after_frames:
            raise anyio.BrokenResourceError()
        self.sent.append((self.clock.now(), pcm, kind))
        if self.stop_after is not None and len(self.sent) >= self.stop_after:
            self.done.set()

    def attach(self, on_event, on_close, keep_audio=True, batched=False):
        self.on_event, self.on_close = on_event, on_close
        self.polls = 0

    def poll(self):
        self.polls += 1

    def detach(self):
        self.on_event = self.on_close = None


def stream(leg, kind, clock, **kw):
    media = MediaClock(clock=clock)
    return StreamOutput(leg, kind, media, **kw)


async def run_for_frames(output, leg, frames):
    leg.stop_after = frames
    async with anyio.create_task_group() as tg:
        tg.start_soon(output.media.run)
        tg.start_soon(output.run)
        await leg.done.wait()
        tg.cancel_scope.cancel()


async def test_a_simulated_minute_is_exactly_3000_frames_20ms_apart_with_no_drift():
    clock = FakeClock(start=1000.0)
    leg = FakeLeg(clock)
    out = stream(leg, codec.Kind.SLIN_8K, clock)
    await run_for_frames(out, leg, 3000)
    times = [t for t, _, _ in leg.sent]
    assert len(times) == 3000
    assert times[-1] - times[0] == pytest.approx(59.98, abs=1e-9)  # frame n at start + n * 20 ms
    gaps = {round(b - a, 9) for a, b in zip(times, times[1:])}
    assert gaps == {0.02}
    assert all(len(pcm) == 320 and kind == codec.Kind.SLIN_8K for _, pcm, kind in leg.sent)
    assert leg.polls == 3000 // 10  # what Asterisk sends on the leg is read every 200 ms


async def test_idle_stream_sends_silence_and_a_reply_plays_in_order_after_the_start_buffer():
    clock = FakeClock()
    leg = FakeLeg(clock)
    out = stream(leg, codec.Kind.SLIN_8K, clock, start_ms=60)
    reply = b"".join(bytes([i, 0]) * 160 for i in range(1, 11))  # ten distinct 20 ms frames
    out.audio("r1", reply, 8000)
    out.response_done("r1")
    await run_for_frames(out, leg, 15)
    payloads = [pcm for _, pcm, _ in leg.sent]
    assert payloads[:10] == [bytes([i, 0]) * 160 for i in range(1, 11)]
    assert payloads[10:] == [b"\x00" * 320] * 5


def test_underrun_mid_reply_is_silence_and_counted():
    buf = StreamBuffer(8000, start_ms=40)
    buf.push(b"\x01\x00" * 160 * 2)
    assert buf.next_frame() == (b"\x01\x00" * 160, True)
    assert buf.next_frame() == (b"\x01\x00" * 160, True)
    assert buf.next_frame() == (b"\x00" * 320, False) and buf.underruns == 1  # reply still open
    buf.end_reply()
    assert buf.next_frame() == (b"\x00" * 320, False) and buf.underruns == 1  # idle: not an underrun


def test_start_buffer_holds_a_reply_until_enough_audio_or_its_end():
    buf = StreamBuffer(8000, start_ms=60)
    buf.push(b"\x01\x00" * 160)  # 20 ms < 60 ms
    assert buf.next_frame() == (b"\x00" * 320, False)
    buf.end_reply()  # the reply is that short: play it
    assert buf.next_frame() == (b"\x01\x00" * 160, True)


def test_a_short_last_frame_is_padded_never_sent_short():
    buf = StreamBuffer(8000, start_ms=0)
    buf.push(b"\x01\x00" * 100)
    buf.end_reply()
    frame, audio = buf.next_frame()
    assert audio and len(frame) == 320 and frame[:200] == b"\x01\x00" * 100


def test_pacer_restarts_instead_of_bursting_after_a_stall():
    pacer = Pacer(start=0.0, frame_s=0.02, max_lag_s=0.1)
    assert pacer.advance(now=0.001) == pytest.approx(0.02)
    # The loop stalled for 0.5 s: do not send 25 frames at once, start over from now.
    assert pacer.advance(now=0.5) == pytest.approx(0.5)
    assert pacer.resets == 1
    assert pacer.advance(now=0.5) == pytest.approx(0.52)


@pytest.mark.parametrize("fmt,rate,size", [(codec.Kind.SLIN_8K, 8000, 320), (codec.Kind.SLIN_16K, 16000, 640),
                                            (codec.Kind.SLIN_24K, 24000, 960), (codec.Kind.SLIN_44K, 44100, 1764),
                                            (codec.Kind.SLIN_48K, 48000, 1920), (codec.Kind.SLIN_192K, 192000, 7680)])
async def test_frames_match_the_leg_kind_and_rate(fmt, rate, size):
    clock = FakeClock()
    leg = FakeLeg(clock)
    out = stream(leg, fmt, clock, start_ms=0)
    out.audio("r1", b"\x10\x00" * 8000, 8000)  # one second at 8 kHz, resampled to the leg's rate
    await run_for_frames(out, leg, 10)
    assert all(kind == fmt and len(pcm) == size for _, pcm, kind in leg.sent)
    assert any(pcm != b"\x00" * size for _, pcm, _ in leg.sent)


async def test_barge_in_drops_queued_audio_at_once_and_late_audio_of_that_reply_is_never_sent():
    clock = FakeClock()
    leg = FakeLeg(clock)
    out = stream(leg, codec.Kind.SLIN_8K, clock, start_ms=0)
    out.audio("r1", b"\x01\x00" * 8000, 8000)
    leg.stop_after = 5
    async with anyio.create_task_group() as tg:
        tg.start_soon(out.media.run)
        tg.start_soon(out.run)
        await leg.done.wait()
        assert await out.stop("r1") is True
        out.audio("r1", b"\x02\x00" * 800, 8000)  # a late delta of the cancelled reply
        leg.done = anyio.Event()
        leg.stop_after = 15
        await leg.done.wait()
        tg.cancel_scope.cancel()
    after = [pcm for _, pcm, _ in leg.sent[5:]]
    assert after and all(pcm == b"\x00" * 320 for pcm in after)


async def test_a_failing_leg_raises_stream_failed_with_pending_audio_kept_for_files():
    clock = FakeClock()
    leg = FakeLeg(clock, fail_after_frames=3)
    out = stream(leg, codec.Kind.SLIN_8K, clock, start_ms=0)
    out.audio("r1", b"\x01\x00" * 1600, 8000)  # 200 ms
    async with anyio.create_task_group() as tg:
        tg.start_soon(out.media.run)
        with pytest.raises(StreamFailed):
            await out.run()
        tg.cancel_scope.cancel()
    rid, pending, rate = out.take_pending()
    assert (rid, rate) == ("r1", 8000) and len(pending) == 3200 - 3 * 320


async def test_first_frame_of_every_reply_is_announced_even_back_to_back():
    clock = FakeClock()
    leg = FakeLeg(clock)
    out = stream(leg, codec.Kind.SLIN_8K, clock, start_ms=0)
    announced = []
    out.on_first_audio = lambda mode: announced.append(len(leg.sent))
    out.audio("r1", b"\x01\x00" * 800, 8000)  # 100 ms, reply left open (no response_done)
    out.audio("r2", b"\x02\x00" * 800, 8000)  # the next reply follows without a gap
    await run_for_frames(out, leg, 12)
    assert announced == [0, 5]
