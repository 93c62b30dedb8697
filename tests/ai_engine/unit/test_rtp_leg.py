"""The RTP leg at the socket edge, over real loopback UDP: strict symmetric RTP (more/ M3, M12),
decoding to the call's PCM (wideband stays 16 kHz), what goes back (M8/M9), the port range."""
import socket

import anyio
import numpy as np
import pytest

from ai_engine.config import RtpSettings
from ai_engine.observability import metrics
from ai_engine.transports.audiosocket import codec as frames
from ai_engine.transports.rtp import codec
from ai_engine.transports.rtp.ports import NoPortFree, RtpPorts
from engine_harness import tone_level

pytestmark = pytest.mark.anyio


class Peer:
    """Asterisk's UnicastRTP socket."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2)
        self.port = self.sock.getsockname()[1]
        self.seq, self.ts = 100, 320

    def channelvars(self):
        return {"UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1", "UNICASTRTP_LOCAL_PORT": str(self.port)}

    def send(self, leg, payload, pt=118, seq=None):
        seq = self.seq if seq is None else seq
        self.sock.sendto(codec.build(payload, payload_type=pt, seq=seq, timestamp=self.ts, ssrc=0xABC), ("127.0.0.1", leg.port))
        self.seq, self.ts = seq + 1, self.ts + 320


def sine(freq, rate, ms=20, amplitude=8000, byteorder=">i2"):
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(byteorder).tobytes()


async def settle(cond, what):
    with anyio.fail_after(3, shield=False):
        while not cond():
            await anyio.sleep(0.005)


@pytest.fixture
async def ports():
    return RtpPorts(RtpSettings(port_start=32000, port_end=32009, reorder_packets=2))


async def test_wideband_audio_reaches_the_owner_at_16k_in_order(ports):
    leg, peer = await ports.open_leg("slin16"), Peer()
    leg.expect_peer(peer.channelvars())
    got = []
    leg.attach(got.append, lambda r: None)
    chunks = [sine(6000, 16000)] * 5  # 6 kHz: above what any 8 kHz step could carry
    peer.send(leg, chunks[0], seq=1)
    peer.send(leg, chunks[2], seq=3)  # out of order
    peer.send(leg, chunks[1], seq=2)
    peer.send(leg, chunks[1], seq=2)  # duplicate
    await settle(lambda: len(got) == 3, "three frames")
    assert all(type(e) is frames.Audio and e.rate == 16000 and len(e.payload) == 640 for e in got)
    pcm = b"".join(e.payload for e in got)
    assert tone_level(pcm, 6000, rate=16000) > 7000  # little-endian now, full level
    leg.release()


async def test_a_strangers_packets_are_dropped_counted_and_never_reach_the_call(ports):
    leg, peer, stranger = await ports.open_leg("slin16"), Peer(), Peer()
    leg.expect_peer(peer.channelvars())
    got = []
    leg.attach(got.append, lambda r: None)
    before = metrics.MEDIA_PACKETS_DROPPED.labels("rtp", "stranger")._value.get()
    t0 = leg.last_received
    for _ in range(5):
        stranger.send(leg, sine(600, 16000))  # same IP, other port (M12)
    peer.send(leg, sine(600, 16000))
    await settle(lambda: got, "the real packet")
    assert len(got) == 1 and leg.strangers == 5
    assert metrics.MEDIA_PACKETS_DROPPED.labels("rtp", "stranger")._value.get() - before == 5
    assert leg.last_received > t0
    leg.release()


async def test_malformed_and_foreign_payload_types_are_dropped_and_the_leg_goes_on(ports):
    leg, peer = await ports.open_leg("ulaw"), Peer()
    leg.expect_peer(peer.channelvars())
    got, ended = [], []
    leg.attach(got.append, ended.append)
    peer.sock.sendto(b"\x00garbage", ("127.0.0.1", leg.port))
    peer.send(leg, b"\x01" * 4, pt=101)  # an RFC 2833 event: never sent by Asterisk here (M6), not audio
    peer.send(leg, b"\xff" * 160, pt=0)
    await settle(lambda: got, "the audio packet")
    assert (leg.malformed, leg.wrong_payload, len(got), ended) == (1, 1, 1, [])
    assert got[0].rate == 8000 and got[0].payload == b"\0" * 320  # μ-law silence decoded
    leg.release()


def received(peer) -> list:
    sent = []
    peer.sock.settimeout(0.5)
    try:
        while True:
            sent.append(codec.parse(peer.sock.recvfrom(2048)[0]))
    except TimeoutError:
        return sent


async def test_wideband_agent_audio_goes_back_to_a_slin16_leg_as_g722(ports):
    """cost/ C6: Asterisk plays PT 9 G.722 on a slin16 leg at 16 kHz (it drops 16 kHz L16, M8)."""
    import G722

    leg, peer = await ports.open_leg("slin16"), Peer()
    try:
        leg.expect_peer(peer.channelvars())
        assert leg.audio_kind is frames.Kind.SLIN_16K
        for _ in range(10):
            leg.send_audio(sine(6000, 16000, byteorder="<i2"), frames.Kind.SLIN_16K)  # 6 kHz: wideband only
        sent = received(peer)
        assert len(sent) == 10 and {p.payload_type for p in sent} == {9} and {len(p.payload) for p in sent} == {160}
        assert [(p.timestamp - sent[0].timestamp) % 2**32 for p in sent] == [160 * i for i in range(10)]  # 8 kHz clock
        decoded = np.asarray(G722.G722(16000, 64000).decode(b"".join(p.payload for p in sent)), dtype="<i2")
        assert tone_level(decoded[1600:].tobytes(), 6000, rate=16000) > 6000
    finally:
        leg.release()


async def test_agent_audio_goes_back_as_pt11_at_8k_without_wideband_return():
    ports = RtpPorts(RtpSettings(port_start=32010, port_end=32019, wideband_return=False))
    leg, peer = await ports.open_leg("slin16"), Peer()
    try:
        leg.send_audio(b"\x01\x00" * 160)  # no peer known yet: nothing to answer to, nothing sent
        leg.expect_peer(peer.channelvars())
        for _ in range(3):
            leg.send_audio(sine(440, 8000, byteorder="<i2"))
        for _ in range(10):  # 16 kHz in: resampled, still whole 20 ms packets
            leg.send_audio(sine(440, 16000, byteorder="<i2"), frames.Kind.SLIN_16K)
        sent = received(peer)
        assert 8 <= len(sent) <= 13  # the resampler holds back its latency (~100 ms)
        assert {p.payload_type for p in sent} == {11} and {len(p.payload) for p in sent} == {320}
        assert [p.marker for p in sent] == [True] + [False] * (len(sent) - 1)
        assert [(p.seq - sent[0].seq) % 65536 for p in sent] == list(range(len(sent)))
        assert [(p.timestamp - sent[0].timestamp) % 2**32 for p in sent] == [160 * i for i in range(len(sent))]
        assert tone_level(np.frombuffer(sent[1].payload, ">i2").astype("<i2").tobytes(), 440) > 7000  # big-endian (M5)
    finally:
        leg.release()


async def test_an_unspecified_asterisk_address_is_learned_from_its_port_only(ports):
    leg, peer, stranger = await ports.open_leg("slin16"), Peer(), Peer()
    leg.expect_peer({"UNICASTRTP_LOCAL_ADDRESS": "0.0.0.0", "UNICASTRTP_LOCAL_PORT": str(peer.port)})
    got = []
    leg.attach(got.append, lambda r: None)
    stranger.send(leg, sine(600, 16000))
    peer.send(leg, sine(600, 16000))
    await settle(lambda: got, "the real packet")
    assert leg.peer == ("127.0.0.1", peer.port) and leg.strangers == 1
    leg.release()


async def test_ports_come_from_the_range_and_go_back_on_release(ports):
    legs = [await ports.open_leg("slin16") for _ in range(5)]
    assert sorted(l.port for l in legs) == [32000, 32002, 32004, 32006, 32008]
    with pytest.raises(NoPortFree):
        await ports.open_leg("slin16")
    for leg in legs:
        leg.release()
    await settle(lambda: not ports.in_use, "ports released")
    again = await ports.open_leg("ulaw")
    assert again.port in range(32000, 32010, 2)
    again.release()
    with pytest.raises(anyio.ClosedResourceError):
        again.send_audio(b"\0" * 320)
