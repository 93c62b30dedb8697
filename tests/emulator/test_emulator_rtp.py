"""externalMedia RTP faithfulness: the emulator's UnicastRTP legs against the recordings of a real
Asterisk 22.10.1 (tests/asterisk_facts/more/: ari-rtp-*.jsonl, rtp-rtp-*.jsonl, summaries; M1-M14)."""
from __future__ import annotations

import asyncio
import json
import socket
import struct

import numpy as np
import pytest

from emu_testkit import FACTS, Rig, pcm, tone, tone_amplitude

pytestmark = pytest.mark.anyio
MORE = FACTS / "more"


def recorded(name):
    return [json.loads(line) for line in (MORE / name).read_text().splitlines() if line.strip()]


def recorded_events_of(name, channel_name_prefix):
    return [l["event"] for l in recorded(name) if l["dir"] == "event"
            and ((l["event"].get("channel") or l["event"].get("peer") or {}).get("name", "")).startswith(channel_name_prefix)]


class Agent:
    """The agent's UDP socket (what the engine's RTP leg is), plus a second one (a stranger)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.packets: list[tuple[float, tuple, bytes]] = []
        self.seq, self.ts = 1000, 50000

    async def collect(self, seconds):
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            try:
                data, addr = self.sock.recvfrom(4096)
                self.packets.append((loop.time(), addr, data))
            except BlockingIOError:
                await asyncio.sleep(0.005)

    async def send(self, dest, pt, payload_fn, n=25, sock=None):
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(n):
            header = struct.pack(">BBHII", 0x80, (0x80 if i == 0 else 0) | pt, self.seq & 0xFFFF, self.ts, 0x0FAC7501)
            (sock or self.sock).sendto(header + payload_fn(i), dest)
            self.seq, self.ts = self.seq + 1, self.ts + 160
            await asyncio.sleep(max(0.0, start + 0.02 * (i + 1) - loop.time()))  # drift-free pacing


def header(data):
    b0, b1, seq, ts, ssrc = struct.unpack_from(">BBHII", data)
    return {"v": b0 >> 6, "p": (b0 >> 5) & 1, "x": (b0 >> 4) & 1, "cc": b0 & 15, "m": b1 >> 7, "pt": b1 & 127,
            "seq": seq, "ts": ts, "ssrc": ssrc, "len": len(data) - 12}


async def rtp_leg(rig, agent, fmt):
    call = await rig.answered_call()
    b1 = await rig.bridge()
    await rig.add(b1, call.channel_id)
    r = await rig.post("/channels/externalMedia", app="ai-agent", external_host=f"127.0.0.1:{agent.port}",
                       format=fmt, encapsulation="rtp", transport="udp", direction="both")
    snap = r.json()
    await rig.started(snap["id"])
    await rig.add(b1, snap["id"])
    return call, b1, snap


@pytest.mark.parametrize("fmt", ["slin16", "ulaw"])
async def test_external_media_answer_and_events_as_recorded(fmt):
    rec = next(l for l in recorded(f"ari-rtp-{fmt}.jsonl") if l["dir"] == "rest" and l["path"].endswith("/externalMedia"))
    agent = Agent()
    async with Rig() as rig:
        _, _, snap = await rtp_leg(rig, agent, fmt)
        assert list(snap) == list(rec["response"])                                  # M1: snapshot + channelvars
        assert set(snap["channelvars"]) == {"UNICASTRTP_LOCAL_PORT", "UNICASTRTP_LOCAL_ADDRESS"}
        assert snap["name"].startswith(f"UnicastRTP/127.0.0.1:{agent.port}-0x") and snap["state"] == "Down"
        assert snap["dialplan"] == rec["response"]["dialplan"]
        types = [e["type"] for e in rig.emu.event_log and [x["event"] for x in rig.emu.event_log]
                 if (e.get("channel") or e.get("peer") or {}).get("id") == snap["id"]]
        want = [e["type"] for e in recorded_events_of(f"ari-rtp-{fmt}.jsonl", "UnicastRTP")]
        assert types[:5] == want[:5] == ["Dial", "ChannelStateChange", "Dial", "ChannelVarset", "StasisStart"]
        dial = next(x["event"] for x in rig.emu.event_log if x["event"]["type"] == "Dial")
        assert dial["dialstring"] == f"127.0.0.1:{agent.port}/c({fmt})"
        var = await rig.client.get(f"/channels/{snap['id']}/variable", params={"variable": "UNICASTRTP_LOCAL_PORT"})
        assert var.json() == {"value": snap["channelvars"]["UNICASTRTP_LOCAL_PORT"]}  # M2


@pytest.mark.parametrize("fmt, pt, size, first_ts", [("slin16", 118, 640, 320), ("ulaw", 0, 160, 160)])
async def test_packets_headers_source_and_payload_as_recorded(fmt, pt, size, first_ts):
    rec = [l for l in recorded(f"rtp-rtp-{fmt}.jsonl") if l["dir"] == "in" and "seq" in l]
    assert (rec[0]["pt"], rec[0]["len"], rec[0]["ts"], rec[0]["m"]) == (pt, size, first_ts, 0)
    agent = Agent()
    async with Rig() as rig:
        call, _, snap = await rtp_leg(rig, agent, fmt)
        speech = asyncio.ensure_future(call.say(tone(600, 1.0).tobytes()))
        await agent.collect(1.3)
        await speech
    source = ("127.0.0.1", int(snap["channelvars"]["UNICASTRTP_LOCAL_PORT"]))
    assert {addr for _, addr, _ in agent.packets} == {source}                        # M3
    heads = [header(d) for _, _, d in agent.packets]
    first = heads[0]
    assert (first["v"], first["p"], first["x"], first["cc"], first["m"]) == (2, 0, 0, 0, 0)   # M4
    assert (first["pt"], first["ts"]) == (pt, first_ts) and {h["len"] for h in heads} == {size}
    assert len({h["ssrc"] for h in heads}) == 1
    assert all((b["seq"] - a["seq"]) % 65536 == 1 and b["ts"] - a["ts"] == first_ts for a, b in zip(heads, heads[1:]))
    payload = b"".join(d[12:] for _, _, d in agent.packets[10:40])
    if fmt == "slin16":                                                                # M5: big-endian
        samples = np.frombuffer(payload, ">i2").astype(np.int16)
        level = tone_amplitude(samples, 600, rate=16000)
        assert tone_amplitude(np.frombuffer(payload, "<i2"), 600, rate=16000) < level / 2
    else:
        from asterisk_emulator.rtp_leg import ULAW_DECODE
        level = tone_amplitude(ULAW_DECODE[np.frombuffer(payload, np.uint8)], 600)
    summary = json.loads((MORE / f"summary-rtp-{fmt}.json").read_text())
    assert 7500 < level < 8100, summary.get("inbound_audio_analysis")


async def test_what_the_caller_hears_of_each_payload_type_and_source():
    """M8-M12 in one run: PT 118 dropped, PT 0 and 11 heard, PT 99 dropped, a stranger dropped."""
    agent, stranger = Agent(), Agent()
    ulaw440 = tone(440, 0.5)
    from asterisk_emulator.rtp_leg import ulaw_encode
    async with Rig() as rig:
        call, _, snap = await rtp_leg(rig, agent, "slin16")
        dest = ("127.0.0.1", int(snap["channelvars"]["UNICASTRTP_LOCAL_PORT"]))
        loop = asyncio.get_running_loop()
        spans = {}
        for label, pt, fn, sock in [
            ("A118", 118, lambda i: tone(440, 0.02, rate=16000).astype(">i2").tobytes(), None),
            ("C0", 0, lambda i: ulaw_encode(ulaw440[i * 160:(i + 1) * 160]), None),
            ("C11", 11, lambda i: ulaw440[i * 160:(i + 1) * 160].astype(">i2").tobytes(), None),
            ("C99", 99, lambda i: ulaw440[i * 160:(i + 1) * 160].astype(">i2").tobytes(), None),
            ("E", 0, lambda i: ulaw_encode(ulaw440[i * 160:(i + 1) * 160]), stranger.sock),
            ("F", 0, lambda i: ulaw_encode(ulaw440[i * 160:(i + 1) * 160]), None),
        ]:
            t0 = loop.time()
            await agent.send(dest, pt, fn, sock=sock)
            spans[label] = (t0 + 0.1, loop.time() - 0.05)
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.1)
        heard = {label: tone_amplitude(pcm(call.heard_between(*span)), 440) for label, span in spans.items()}
    assert heard["A118"] < 300 and heard["C99"] < 300 and heard["E"] < 300             # M8, M10, M12
    assert heard["C0"] > 7000 and heard["C11"] > 7000 and heard["F"] > 7000            # M9, M12
    leg = rig.emu.rtp_legs[0]
    assert leg.dropped["stranger"] == 25 and leg.dropped["payload_type"] == 50


async def test_dtmf_gap_then_marker_and_timestamp_jump_and_no_rfc2833():
    rec = next(l for l in recorded("rtp-rtp-slin16.jsonl") if l["dir"] == "elided" and l["stream"] == "in:main")
    gap = rec["gaps_over_30ms"][0]
    assert gap["m_after"] == 1 and gap["seq_after"] - gap["seq_before"] == 1                       # M6
    agent = Agent()
    async with Rig() as rig:
        call, _, _ = await rtp_leg(rig, agent, "slin16")
        collecting = asyncio.ensure_future(agent.collect(2.0))
        await asyncio.sleep(0.3)
        await call.send_dtmf("1#")
        await collecting
    times = [t for t, _, _ in agent.packets]
    heads = [header(d) for _, _, d in agent.packets]
    i = int(np.argmax(np.diff(times)))
    gap_s = times[i + 1] - times[i]
    assert gap_s > 0.5 and heads[i + 1]["m"] == 1 and (heads[i + 1]["seq"] - heads[i]["seq"]) % 65536 == 1
    assert abs((heads[i + 1]["ts"] - heads[i]["ts"]) / 16000 - gap_s) < 0.1  # the timestamp follows the wall clock
    assert {h["pt"] for h in heads} == {118}                                                       # no PT 101


async def test_silence_from_the_agent_changes_nothing_and_delete_is_the_recorded_sequence():
    want = [e["type"] for e in recorded_events_of("ari-rtp-slin16.jsonl", "UnicastRTP")]
    want_delete = want[want.index("ChannelHangupRequest"):]
    agent = Agent()
    async with Rig() as rig:
        call, b1, snap = await rtp_leg(rig, agent, "slin16")
        await agent.collect(2.5)                                                      # M13: no timeout
        assert snap["id"] in rig.emu.channels and not rig.emu.rtp_legs[0].closed
        since = len(rig.emu.event_log)
        r = await rig.client.delete(f"/channels/{snap['id']}")
        assert r.status_code == 204
        await rig.ws.wait(lambda e: e["type"] == "ChannelDestroyed" and e["channel"]["id"] == snap["id"])
        got = [x["event"] for x in rig.emu.event_log[since:] if (x["event"].get("channel") or {}).get("id") == snap["id"]]
        assert [e["type"] for e in got] == want_delete                                # M14
        assert got[0]["cause"] == 32 and got[-1]["cause"] == 16
        assert rig.emu.rtp_legs[0].closed


async def test_g722_sent_back_to_a_slin16_leg_is_heard():
    """cost/ C6 (summary-rtp-g722.json): PT 9, 160-byte G.722 packets (ts step 160) sent back to a
    format=slin16 leg were heard (700 Hz at the level sent), while PT 118 was not. The emulator's
    bridge mixes at 8 kHz, so it hears the 700 Hz, not the recording's 6 kHz component."""
    import G722

    summary = json.loads((FACTS / "cost" / "summary-rtp-g722.json").read_text())
    heard_recorded = summary["heard_on_leg_B"]
    assert heard_recorded["pt9-g722"]["amp_700"] > 900 and heard_recorded["pt118-slin16"]["rms"] == 0
    wideband = (4000 * np.sin(2 * np.pi * 700 * np.arange(16000 // 2) / 16000)).astype(np.int16)
    encoded = G722.G722(16000, 64000).encode(wideband)
    agent = Agent()
    async with Rig() as rig:
        call, _, snap = await rtp_leg(rig, agent, "slin16")
        dest = ("127.0.0.1", int(snap["channelvars"]["UNICASTRTP_LOCAL_PORT"]))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await agent.send(dest, 9, lambda i: encoded[i * 160:(i + 1) * 160])
        span = (t0 + 0.1, loop.time() - 0.05)
        await asyncio.sleep(0.15)
        level = tone_amplitude(pcm(call.heard_between(*span)), 700)
    assert 3000 < level < 4300
    played = [p for p in rig.emu.rtp_legs[0].packets("out") if p.get("played")]
    assert len(played) == 25 and {p["pt"] for p in played} == {9} and {p.get("rate") for p in played} == {16000}
