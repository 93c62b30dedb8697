"""`ai-agent doctor` for the transports that need no dialplan (externalMedia RTP, chan_websocket),
against the Asterisk emulator: the check passes on a healthy host, and each fault gives a FAIL with
its fix."""
from __future__ import annotations

import socket

import pytest

from ai_engine.admin import checks_asterisk
from ai_engine.admin.doctor import run_checks
from ai_engine.admin.report import Status
from engine_harness import free_port
from test_doctor import by_name, no_leftovers, setup, statuses

pytestmark = pytest.mark.anyio


async def test_websocket_transport_checks_chan_websocket_and_not_the_audiosocket_paths(tmp_path):
    async with setup(tmp_path, calls={"audio_transport": "websocket"}, playback={"downstream_mode": "stream"}) as (emulator, settings):
        results = await run_checks(settings)
        no_leftovers(emulator)
        assert all(leg.closed for leg in emulator.websocket_legs)
    got = statuses(results)
    assert got["WebSocket media"] == "PASS", results
    assert "MEDIA_START (slin16, 640-byte frames)" in by_name(results)["WebSocket media"].detail
    assert got["dialplan media fork"] == got["advertise host"] == got["RTP media"] == "SKIP", results
    assert "chan_websocket.so" in checks_asterisk.required_modules(settings)
    assert "chan_audiosocket.so" not in checks_asterisk.required_modules(settings)


async def test_websocket_media_url_that_reaches_no_asterisk_fails_with_the_fix(tmp_path):
    wrong = f"ws://127.0.0.1:{free_port()}/media/"
    async with setup(tmp_path, calls={"audio_transport": "websocket"}, websocket={"media_url": wrong}) as (emulator, settings):
        results = await run_checks(settings)
        no_leftovers(emulator)
    r = by_name(results)["WebSocket media"]
    assert r.status is Status.FAIL and wrong in r.detail and "websocket.media_url" in r.fix


async def test_rtp_transport_checks_an_externalmedia_rtp_leg(tmp_path):
    port = free_port()
    rtp = {"port_start": port - port % 2, "port_end": port - port % 2 + 1}
    async with setup(tmp_path, calls={"audio_transport": "externalmedia_rtp"}, rtp=rtp) as (emulator, settings):
        results = await run_checks(settings)
        no_leftovers(emulator)
    got = statuses(results)
    assert got["RTP media"] == "PASS", results
    assert f"to 127.0.0.1:{rtp['port_start']}, sending from 127.0.0.1:" in by_name(results)["RTP media"].detail
    assert got["dialplan media fork"] == got["advertise host"] == got["WebSocket media"] == "SKIP", results
    needed = checks_asterisk.required_modules(settings)
    assert {"chan_rtp.so", "res_rtp_asterisk.so"} <= set(needed) and "app_audiosocket.so" not in needed


def even_udp_port_taken() -> tuple[socket.socket, int]:
    """A UDP socket of "another program" on an even port (the RTP range uses even ports only)."""
    while True:
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind(("127.0.0.1", 0))
        if (port := other.getsockname()[1]) % 2 == 0:
            return other, port
        other.close()


async def test_rtp_port_range_taken_by_another_program_fails_with_the_fix(tmp_path):
    other, port = even_udp_port_taken()
    with other:
        rtp = {"port_start": port, "port_end": port + 1}
        async with setup(tmp_path, calls={"audio_transport": "externalmedia_rtp"}, rtp=rtp) as (emulator, settings):
            results = await run_checks(settings)
    r = by_name(results)["RTP media"]
    assert r.status is Status.FAIL and f"{port}-{port + 1}" in r.detail and "widen the range" in r.fix
