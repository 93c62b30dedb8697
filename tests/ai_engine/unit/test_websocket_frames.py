"""chan_websocket media frames (RFC 6455 §5.2-5.3): outbound, what wsproto's server side reads
back; inbound, Asterisk's audio read by us at any split of the bytes, every other frame left whole."""
import os

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Ping, Request, TextMessage
from wsproto.frame_protocol import FrameProtocol

from ai_engine.transports.websocket.frames import (
    KEYS_PER_DRAW,
    FrameTooLarge,
    InboundFrames,
    MaskedBinaryEncoder,
    Passed,
    mask,
)


def server_after_handshake() -> WSConnection:
    client, server = WSConnection(ConnectionType.CLIENT), WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="asterisk", target="/media/x")))
    assert isinstance(next(server.events()), Request)
    server.send(AcceptConnection())
    return server


@pytest.mark.parametrize("size", [2, 124, 125, 126, 320, 640, 65535, 65536, 70000])
def test_every_length_form_reads_back_as_one_binary_message(size):
    server = server_after_handshake()
    payload = os.urandom(size)
    server.receive_data(MaskedBinaryEncoder().encode(payload))
    events = list(server.events())
    assert len(events) == 1 and isinstance(events[0], BytesMessage)
    assert events[0].data == payload and events[0].message_finished


def test_each_frame_has_its_own_key_drawn_in_bulk_from_the_random_source():
    draws = []

    def random_bytes(n):
        draws.append(n)
        return os.urandom(n)

    encoder = MaskedBinaryEncoder(random_bytes)
    keys = {encoder.encode(bytes(320))[4:8] for _ in range(KEYS_PER_DRAW + 1)}
    assert draws == [4 * KEYS_PER_DRAW, 4 * KEYS_PER_DRAW]
    assert len(keys) > KEYS_PER_DRAW - 5  # random 32-bit keys: collisions are rare
    server = server_after_handshake()
    for _ in range(3):
        server.receive_data(encoder.encode(b"\x01\x02" * 160))
    assert [e.data for e in server.events()] == [b"\x01\x02" * 160] * 3


def test_mask_is_its_own_inverse_and_repeats_the_key():
    key = b"\x01\x02\x04\x08"
    assert mask(b"\x00" * 6, key) == b"\x01\x02\x04\x08\x01\x02"
    assert mask(mask(b"hello world", key), key) == b"hello world"
    assert mask(b"", key) == b""


def server_frames(*events) -> bytes:
    """What a server (Asterisk) writes for these events: unmasked frames."""
    server = server_after_handshake()
    return b"".join(server.send(e) for e in events)


def read_all(inbound: InboundFrames, data: bytes, cut: int) -> list[bytes]:
    return inbound.receive(data[:cut]) + inbound.receive(data[cut:])


def test_audio_is_read_here_and_other_frames_pass_whole_at_every_split_of_the_bytes():
    audio = [os.urandom(640), os.urandom(320), os.urandom(2), os.urandom(70000)]
    data = server_frames(
        BytesMessage(audio[0]),
        TextMessage("MEDIA_XOFF"),
        BytesMessage(audio[1]),
        Ping(b"hi"),
        BytesMessage(audio[2]),
        BytesMessage(audio[3]),
        CloseConnection(1000),
    )
    for cut in range(len(data) + 1):
        got = read_all(InboundFrames(max_payload=1 << 20), data, cut)
        assert [bytes(f) for f in got if not isinstance(f, Passed)] == audio
        passed = [f for f in got if isinstance(f, Passed)]
        assert len(passed) == 3 and b"".join(passed) == server_frames(TextMessage("MEDIA_XOFF"), Ping(b"hi"), CloseConnection(1000))


def test_a_fragmented_message_and_a_control_frame_inside_it_all_go_to_wsproto():
    asterisk = FrameProtocol(client=False, extensions=[])  # a server's side: unmasked frames
    data = bytes(
        asterisk.send_data(b"\x01\x00" * 100, fin=False)
        + asterisk.ping(b"p")
        + asterisk.send_data(b"\x02\x00" * 100, fin=True)
        + server_frames(BytesMessage(b"\x03\x00" * 160))
    )
    got = InboundFrames(max_payload=65536).receive(data)
    assert [isinstance(f, Passed) for f in got] == [True, True, True, False]
    assert got[3] == b"\x03\x00" * 160


def test_a_masked_frame_from_the_server_is_left_to_wsproto_to_refuse():
    masked = MaskedBinaryEncoder().encode(b"\x01\x00" * 160)
    (frame,) = InboundFrames(max_payload=65536).receive(masked)
    assert isinstance(frame, Passed) and frame == masked


def test_a_frame_over_the_bound_is_refused_from_its_header_alone():
    inbound = InboundFrames(max_payload=1000)
    before = server_frames(TextMessage("DTMF_END digit:5"), BytesMessage(bytes(320)))
    header = server_frames(BytesMessage(bytes(1002)))[:4]
    got = inbound.receive(before + header)
    assert len(got) == 2 and isinstance(inbound.error, FrameTooLarge)  # what came before still counts
    assert inbound.receive(bytes(320)) == []


def test_only_one_unfinished_frame_is_kept():
    inbound = InboundFrames(max_payload=65536)
    data = server_frames(BytesMessage(bytes(640)), BytesMessage(bytes(640)))
    assert len(inbound.receive(data[:-1])) == 1
    assert len(inbound._rest) == len(data) // 2 - 1
    assert inbound.receive(data[-1:]) == [bytes(640)]
    assert inbound._rest == b""
