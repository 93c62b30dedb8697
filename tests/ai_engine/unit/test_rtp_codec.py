"""The sans-IO RTP codec: header fields as Asterisk sends them (more/ M4-M6), what we send back
(M8/M9), and sequence handling of late, duplicate, reordered and lost packets."""
import json
import random
from pathlib import Path

import numpy as np
import pytest

from ai_engine.transports.rtp import codec

FACTS = Path(__file__).resolve().parents[2] / "asterisk_facts" / "more"


def recorded(name, direction="in"):
    lines = [json.loads(l) for l in (FACTS / name).read_text().splitlines()]
    return [l for l in lines if l.get("dir") == direction and "seq" in l]


def as_datagram(p, payload_len=None):
    payload = bytes.fromhex(p["payload_hex"]).ljust(payload_len or p["len"], b"\0")
    return codec.build(payload, payload_type=p["pt"], seq=p["seq"], timestamp=p["ts"], ssrc=p["ssrc"], marker=bool(p["m"]))


@pytest.mark.parametrize("name, pt, size", [("rtp-rtp-slin16.jsonl", 118, 640), ("rtp-rtp-ulaw.jsonl", 0, 160)])
def test_recorded_asterisk_packets_parse_to_their_header_fields(name, pt, size):
    packets = recorded(name)
    for p in packets:
        got = codec.parse(as_datagram(p))
        assert (got.payload_type, got.seq, got.timestamp, got.ssrc, got.marker) == (p["pt"], p["seq"], p["ts"], p["ssrc"], bool(p["m"]))
        assert len(got.payload) == size == p["len"] or p["len"] == 138  # M7: a short ulaw packet at a file's end
    assert packets[0]["m"] == 0 and packets[0]["ts"] in (320, 160)  # M4
    assert codec.RECEIVE["slin16" if pt == 118 else "ulaw"][0].pt == pt


def test_slin16_payload_is_big_endian_as_recorded():
    first_tone = next(p for p in recorded("rtp-rtp-slin16.jsonl") if p["payload_hex"] != "0" * 32)
    samples = np.frombuffer(bytes.fromhex(first_tone["payload_hex"]), dtype=">i2")
    assert samples[0] == 0 and 1500 < samples[1] < 2000  # a 600 Hz sine rising from 0 at 16 kHz (M5)


def test_what_we_send_back_is_a_static_payload_asterisk_plays():
    # M8: PT 118 back is discarded; cost/ C6: G.722 (PT 9) is heard at 16 kHz
    assert codec.SEND["slin16"] == codec.PayloadFormat(9, "G722", 16000)
    assert codec.NARROWBAND_SEND["slin16"] == codec.PayloadFormat(11, "L16", 8000)
    assert codec.SEND["ulaw"].pt == 0 and codec.SEND["slin"].pt == 11


def test_g722_timestamps_run_at_8_khz_for_16_khz_audio():
    """RFC 3551 §4.5.2, as Asterisk's own G.722 stream in cost/ C6 (ts step 160 per 20 ms)."""
    pz = codec.Packetizer(codec.G722, rng=random.Random(3))
    p = [codec.parse(pz.packet(b"\0" * 160)) for _ in range(3)]  # 20 ms of 16 kHz audio = 160 bytes
    assert [(x.timestamp - p[0].timestamp) % 2**32 for x in p] == [0, 160, 320]
    assert {x.payload_type for x in p} == {9} and codec.G722.clock_rate == 8000


def test_packetizer_keeps_sequence_and_timestamp_continuity_and_marks_talkspurts():
    pz = codec.Packetizer(codec.L16_8K, rng=random.Random(7))
    p = [codec.parse(pz.packet(b"\0" * 320)) for _ in range(3)]
    assert [x.marker for x in p] == [True, False, False]
    assert [(x.seq - p[0].seq) % 65536 for x in p] == [0, 1, 2]
    assert [(x.timestamp - p[0].timestamp) % 2**32 for x in p] == [0, 160, 320]
    assert len({x.ssrc for x in p}) == 1 and {x.payload_type for x in p} == {11}
    after_gap = codec.parse(pz.packet(b"\0" * 320, gap_samples=8000, marker=True))
    assert after_gap.marker and (after_gap.timestamp - p[2].timestamp) % 2**32 == 160 + 8000
    assert (after_gap.seq - p[2].seq) % 65536 == 1


def test_sequence_and_timestamp_wrap():
    pz = codec.Packetizer(codec.PCMU, rng=random.Random(1))
    pz.seq, pz.timestamp = 65535, 2**32 - 80
    a, b = codec.parse(pz.packet(b"\xff" * 160)), codec.parse(pz.packet(b"\xff" * 160))
    assert (a.seq, b.seq) == (65535, 0) and b.timestamp == 80


@pytest.mark.parametrize("data, why", [
    (b"\x80\x76\x00", "shorter"),
    (b"\x40" + b"\0" * 15, "version"),
    (b"\x80\xc8" + b"\0" * 10, "RTCP"),  # a sender report (PT 200) on the RTP port
    (b"\x90\x76" + b"\0" * 10 + b"\0\0\0\x09", "extension"),  # extension longer than the datagram
    (b"\xa0\x76" + b"\0" * 10 + b"\0\0\x05", "padding"),  # padding count beyond the payload
    (b"\x80\x76" + b"\0" * 1600, "bound"),
])
def test_malformed_datagrams_are_refused(data, why):
    with pytest.raises(codec.ProtocolError):
        codec.parse(data, max_size=1500)


def test_csrc_extension_and_padding_are_skipped():
    data = bytes([0xB1, 118]) + b"\0\x01" + b"\0" * 8 + b"CSRC" + b"\xbe\xde\x00\x01" + b"EXT!" + b"abcd" + b"\0\x02"
    assert codec.parse(data).payload == b"abcd"


def pkt(seq, ssrc=1):
    return codec.Packet(False, 118, seq % 65536, seq * 320, ssrc, bytes([seq % 256]) * 4)


def seqs(out):
    return [p.seq for p in out]


def test_depacketizer_delivers_in_order_and_drops_duplicates_and_late_ones():
    d = codec.Depacketizer(reorder=2)
    assert seqs(d.feed(pkt(10))) == [10]
    assert seqs(d.feed(pkt(12))) == []          # 11 missing: held
    assert seqs(d.feed(pkt(11))) == [11, 12]    # put back in order
    assert seqs(d.feed(pkt(12))) == [] and d.late == 1   # a duplicate of one delivered
    assert seqs(d.feed(pkt(14))) == [] and seqs(d.feed(pkt(14))) == [] and d.duplicates == 1
    assert seqs(d.feed(pkt(15))) == []
    assert seqs(d.feed(pkt(16))) == [14, 15, 16] and d.lost == 1  # gave up on 13
    assert seqs(d.feed(pkt(13))) == [] and d.late == 2
    assert d.reordered == 1


def test_depacketizer_follows_wraps_jumps_and_new_streams():
    d = codec.Depacketizer(reorder=0)
    assert seqs(d.feed(pkt(65535))) == [65535] and seqs(d.feed(pkt(65536))) == [0]
    assert seqs(d.feed(pkt(1000))) == [1000] and d.lost == 999   # a jump of +1000 is played through (M11)
    assert seqs(d.feed(pkt(40000))) == [40000]                   # a restart, not 39000 losses
    assert seqs(d.feed(pkt(5, ssrc=2))) == [5]                   # a new SSRC restarts the sequence


@pytest.mark.parametrize("seed", range(20))
def test_any_reordering_within_the_window_is_undone_without_loss(seed):
    rng = random.Random(seed)
    order = list(range(65500, 65500 + 200))  # across the sequence wrap
    for i in range(3, len(order) - 2, 3):  # displacement of at most 2 (the first packet sets the base)
        if rng.random() < 0.5:
            order[i], order[i + 2] = order[i + 2], order[i]
    d = codec.Depacketizer(reorder=2)
    out = [p.seq for s in order for p in d.feed(pkt(s))]
    assert len(out) >= 198 and out == [s % 65536 for s in range(65500, 65500 + len(out))]
    assert d.lost == 0 and d.late == 0
