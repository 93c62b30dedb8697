"""AudioSocket codec: every kind in the facts, split and coalesced reads, malformed input."""
import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai_engine.transports.audiosocket import codec
from ai_engine.transports.audiosocket.codec import Audio, Decoder, Dtmf, Error, Hangup, Kind, ProtocolError, Uuid

FACT_UUID_FRAME = bytes.fromhex("010010") + uuid.UUID("5f0b4c2e-8a51-4c39-9d0e-3f5f1f0a7c11").bytes


def test_uuid_frame_as_asterisk_sends_it():
    # FACT 9: `01 00 10` + the 16 raw bytes of the UUID, often coalesced with the first audio frame.
    audio = codec.encode_audio(b"\x00\x01" * 160)
    events = Decoder().feed(FACT_UUID_FRAME + audio)
    assert events == [Uuid(uuid.UUID("5f0b4c2e-8a51-4c39-9d0e-3f5f1f0a7c11")), Audio(Kind.SLIN_8K, b"\x00\x01" * 160)]


def test_dtmf_frames_from_the_facts():
    # FACT 17: `03 00 01 31` ("1") and `03 00 01 23` ("#").
    assert Decoder().feed(bytes.fromhex("03000131") + bytes.fromhex("03000123")) == [Dtmf("1"), Dtmf("#")]


@pytest.mark.parametrize("kind,rate", sorted(codec.AUDIO_RATES.items()))
def test_every_audio_kind_round_trips_with_its_rate(kind, rate):
    pcm = bytes(range(256)) * 2
    (event,) = Decoder().feed(codec.encode_audio(pcm, Kind(kind)))
    assert event == Audio(Kind(kind), pcm) and event.rate == rate


def test_short_final_frame_is_accepted():
    # FACT 16: 276-byte frames appear at the end of files: never assume 320.
    (event,) = Decoder().feed(codec.encode_audio(b"\x00" * 276))
    assert len(event.payload) == 276


def test_hangup_and_error_kinds():
    assert Decoder().feed(bytes.fromhex("000000")) == [Hangup()]
    assert Decoder().feed(bytes.fromhex("ff000104")) == [Error(b"\x04")]
    assert Decoder().feed(bytes.fromhex("ff0000")) == [Error(b"")]


@pytest.mark.parametrize(
    "raw,reason",
    [
        (bytes.fromhex("020000"), "unknown frame kind 0x02"),
        (bytes.fromhex("7f"), "unknown frame kind 0x7f"),
        (bytes.fromhex("100000"), "not a non-empty whole number"),
        (bytes.fromhex("100003") + b"abc", "not a non-empty whole number"),
        (bytes.fromhex("01000f") + b"x" * 15, "must carry 16 bytes"),
        (bytes.fromhex("030002") + b"12", "must carry 1 bytes"),
        (bytes.fromhex("03000141"[:-2] + "5a"), "invalid DTMF"),
        (bytes.fromhex("000001") + b"x", "must carry 0 bytes"),
    ],
)
def test_malformed_frames_are_refused(raw, reason):
    with pytest.raises(ProtocolError, match=reason):
        Decoder().feed(raw)


def test_oversized_length_is_refused_from_the_header_alone():
    dec = Decoder(max_payload=8192)
    with pytest.raises(ProtocolError, match="exceeds"):
        dec.feed(struct.pack(">BH", 0x10, 60000))  # no payload needed: nothing is buffered for it
    assert dec.buffered <= 3


def test_a_broken_decoder_stays_broken():
    dec = Decoder()
    with pytest.raises(ProtocolError):
        dec.feed(b"\x42")
    with pytest.raises(ProtocolError):
        dec.feed(codec.encode_audio(b"\x00\x00"))


def test_encoders_refuse_what_asterisk_would_hang_up_on():
    with pytest.raises(ValueError):
        codec.encode_audio(b"")  # zero-length audio makes Asterisk hang up
    with pytest.raises(ValueError):
        codec.encode_audio(b"\x00", Kind.SLIN_8K)
    with pytest.raises(ValueError):
        codec.encode_audio(b"\x00\x00", Kind.DTMF)
    assert codec.encode_hangup() == b"\x00\x00\x00"


frames = st.one_of(
    st.builds(lambda d: (codec.encode_dtmf(d), Dtmf(d)), st.sampled_from("0123456789*#ABCD")),
    st.builds(lambda u: (codec.encode_uuid(u), Uuid(u)), st.uuids()),
    st.builds(
        lambda k, n: (codec.encode_audio(b"\x01\x02" * n, k), Audio(k, b"\x01\x02" * n)),
        st.sampled_from([Kind(k) for k in codec.AUDIO_RATES]),
        st.integers(1, 2000),
    ),
    st.just((codec.encode_hangup(), Hangup())),
    st.builds(lambda p: (codec.frame_bytes(Kind.ERROR, p), Error(p)), st.binary(max_size=8)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(frames, max_size=20), st.data())
def test_any_split_of_a_valid_stream_decodes_to_the_same_frames(items, data):
    stream = b"".join(raw for raw, _ in items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    dec = Decoder()
    out = []
    prev = 0
    for cut in cuts + [len(stream)]:
        out += dec.feed(stream[prev:cut])
        prev = cut
    assert out == [event for _, event in items]
    assert dec.buffered == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000), st.integers(1, 64))
def test_random_bytes_either_decode_or_raise_protocol_error_with_bounded_buffer(blob, chunk):
    dec = Decoder(max_payload=1024)
    try:
        for i in range(0, len(blob), chunk):
            dec.feed(blob[i : i + chunk])
    except ProtocolError:
        pass
    assert dec.buffered <= 3 + 1024
