"""Every case of ``rest-errors.jsonl`` (FACTS 47-59): same status, same body text, same
content type, and the same events in between; plus the events-WebSocket handshake refusals
(FACT 48: 401 with the JSON body, 400 text/html without ``app``)."""
from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from asterisk_emulator import AsteriskEmulator
from emu_replay import SCALE, Replayer, assert_same_events, shape
from emu_testkit import FakeEngine, PASSWORD, USER, ari_client, load_jsonl, tone, write_wav

TEST_WAIT = {"test-wait": [("Answer", ""), ("Wait", "${WAIT_SECS}")]}
AUTH_BY_CASE = {
    "rest-wrong-password": (USER, "wrong-password"),
    "rest-unknown-user": ("nobody", PASSWORD),
    "rest-no-credentials": None,
    "rest-wrong-api_key-query": None,
    "rest-good-api_key-query": None,
}


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ErrorReplayer(Replayer):
    def __init__(self, *a, dead_port: int, **kw):
        super().__init__(*a, **kw)
        self.dead_port = dead_port

    def map_str(self, s: str) -> str:
        s = s.replace("127.0.0.1:8099", f"127.0.0.1:{self.dead_port}")
        return super().map_str(s).replace("<ari-password>", PASSWORD)

    async def send(self, client, d, path, query, body):
        case = d.get("case")
        if case in AUTH_BY_CASE:
            auth = AUTH_BY_CASE[case]
            async with httpx.AsyncClient(base_url=client.base_url, auth=auth) as c:
                return await c.request(d["method"], path, params=query, json=body)
        return await super().send(client, d, path, query, body)


@pytest.mark.anyio
async def test_rest_errors_match_recording(tmp_path):
    lines = load_jsonl("rest-errors.jsonl")
    sounds = tmp_path / "sounds"
    (sounds / "test").mkdir(parents=True)
    write_wav(sounds / "test" / "agent-prompt.wav", tone(1000, 2.0 * SCALE))
    async with FakeEngine() as engine:
        async with AsteriskEmulator(audiosocket_address=engine.address, sounds_dir=str(sounds),
                                    extra_contexts=TEST_WAIT) as emu:
            rp = ErrorReplayer(lines, emu, engine, str(sounds), dead_port=closed_port())
            async with ari_client(emu) as client:
                await rp.run(client)
            checked = 0
            for d, resp in rp.raw:
                where = f"{d.get('case')}: {d['method']} {d['path']}"
                assert resp.status_code == d["status"], where
                ctype = resp.headers.get("content-type")
                assert ctype == d.get("content_type"), where
                if d["status"] >= 400:
                    assert resp.text == d["response_raw"], where     # exact body
                    checked += 1
                else:
                    assert shape(resp.json() if resp.content else None) == shape(d["response"])
                if d["status"] == 401:
                    assert resp.headers["www-authenticate"] == \
                        'Basic realm="Asterisk REST Interface"'
                assert resp.headers["server"] == "Asterisk/22.10.1"
            assert checked == sum(1 for d in lines if d["dir"] == "rest" and d["status"] >= 400)
            recorded = [d for d in rp.lines if d["dir"] == "event"]
            assert_same_events([rp.norm_event(e, rp.ours) for e in rp.ws["ws1"].events],
                               [rp.norm_event(d["event"], rp.rec) for d in recorded],
                               [d["t"] for d in recorded])
            assert not emu.channels and not emu.bridges


async def raw_upgrade(port: int, query: str) -> tuple[int, dict, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((f"GET /ari/events{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(h.split(": ", 1) for h in head[1:] if ": " in h)
    body = await reader.readexactly(int(headers.get("Content-Length", 0)))
    writer.close()
    return int(head[0].split()[1]), headers, body.decode()


@pytest.mark.anyio
async def test_websocket_refusals_match_recording():
    cases = {d["case"]: d for d in load_jsonl("rest-errors.jsonl")
             if d["dir"] == "ws" and "case" in d}
    queries = {"ws-wrong-password": "?app=ai-agent&api_key=ai-agent:wrong-password",
               "ws-no-credentials": "?app=ai-agent",
               "ws-missing-app": f"?api_key={USER}:{PASSWORD}"}
    async with AsteriskEmulator() as emu:
        for case, query in queries.items():
            status, headers, body = await raw_upgrade(emu.port, query)
            want = cases[case]
            assert status == want["status"], case
            assert body == want["body"], case
            for name in ("Content-type", "Content-Length", "Server", "Cache-Control",
                         "WWW-Authenticate"):
                assert headers.get(name) == want["headers"].get(name), (case, name)
        assert not emu.app_active()
