"""Outbound chan_websocket media frames (RFC 6455 §5.2-5.3): what wsproto's server side reads back."""
import os

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Request

from ai_engine.transports.websocket.frames import KEYS_PER_DRAW, MaskedBinaryEncoder, mask


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
