"""externalMedia RTP with `format=slin` (8 kHz): the emulator's UnicastRTP leg against the recording
of a real Asterisk 22.10.1 (tests/asterisk_facts/cost/: ari-rtp-slin.jsonl, rtp-rtp-slin.jsonl,
summary-rtp-slin.json; C5)."""
from __future__ import annotations

import asyncio
import json
import socket
import struct

import numpy as np
import pytest

from emu_testkit import FACTS, Rig, tone, tone_amplitude

pytestmark = pytest.mark.anyio
COST = FACTS / "cost"


def recorded(name):
    return [json.loads(line) for line in (COST / name).read_text().splitlines() if line.strip()]


async def collect(sock, seconds):
    loop = asyncio.get_running_loop()
    packets, end = [], loop.time() + seconds
    while loop.time() < end:
        try:
            packets.append(sock.recvfrom(4096))
        except BlockingIOError:
            await asyncio.sleep(0.005)
    return packets


async def test_slin_leg_sends_pt_10_big_endian_320_bytes_as_recorded():
    rec = [line for line in recorded("rtp-rtp-slin.jsonl") if line["dir"] == "in" and "seq" in line]
    summary = json.loads((COST / "summary-rtp-slin.json").read_text())
    first = rec[0]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        async with Rig() as rig:
            call = await rig.answered_call()
            bridge = await rig.bridge()
            await rig.add(bridge, call.channel_id)
            r = await rig.post("/channels/externalMedia", app="ai-agent", external_host=f"127.0.0.1:{sock.getsockname()[1]}",
                               format="slin", encapsulation="rtp", transport="udp")
            leg = r.json()
            await rig.started(leg["id"])
            await rig.add(bridge, leg["id"])
            speech = asyncio.ensure_future(call.say(tone(600, 1.0).tobytes()))
            packets = await collect(sock, 1.3)
            await speech
    finally:
        sock.close()
    heads = [struct.unpack_from(">BBHII", data) for data, _ in packets]
    assert {h[1] & 0x7F for h in heads} == set(summary["pts"]) == {first["pt"]} == {10}
    assert {len(data) - 12 for data, _ in packets} == {320} and 320 in summary["lens"]
    assert heads[0][1] >> 7 == first["m"] == 0 and heads[0][3] == first["ts"]
    assert {(b[3] - a[3]) % 2**32 for a, b in zip(heads, heads[1:])} == {160} <= set(summary["ts_steps"])
    payload = b"".join(data[12:] for data, _ in packets[10:40])
    big = tone_amplitude(np.frombuffer(payload, ">i2").astype(np.int16), 600)
    little = tone_amplitude(np.frombuffer(payload, "<i2").astype(np.int16), 600)
    assert summary["tone600_amplitude_big_endian"] > 7000 > summary["tone600_amplitude_little_endian"]
    assert big > 7000 > little
