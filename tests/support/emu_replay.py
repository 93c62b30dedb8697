"""Replaying recorded ARI traffic against the emulator: id mapping, normalisation, comparison."""
from __future__ import annotations

import asyncio
import re
from collections import Counter

from emu_testkit import EventsWs

SCALE = 0.15
SOUNDS = "/var/lib/asterisk/sounds"

SEQ_RX = re.compile(r"-[0-9a-f]{8};")
UUID_RX = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HOST_RX = re.compile(r"127\.0\.0\.1:\d+")


class Side:
    """Channel ids ↔ role keys (channel names without sequence numbers or ports)."""

    def __init__(self):
        self.key_by_id: dict[str, str] = {}
        self.id_by_key: dict[str, str] = {}
        self.seq: dict[str, int] = {}    # channel-name sequence number → order of appearance

    def _seq(self, m) -> str:
        n = self.seq.setdefault(m.group(0), len(self.seq) + 1)
        return f"-#{n};"

    def norm(self, name: str) -> str:
        name = HOST_RX.sub("HOST", SEQ_RX.sub(self._seq, name))
        m = re.match(r"Snoop/([^-]+)-", name)
        if m:
            name = "Snoop/" + self.key_by_id.get(m.group(1), m.group(1))
        return name

    def text(self, s: str) -> str:
        """``norm`` plus every known channel id replaced by its key."""
        s = self.norm(s)
        for cid in sorted(self.key_by_id, key=len, reverse=True):
            s = re.sub(r"(?<![\w.])" + re.escape(cid) + r"(?![\w.])", f"<{self.key_by_id[cid]}>", s)
        return s

    def learn(self, obj) -> None:
        if isinstance(obj, dict):
            if "id" in obj and "name" in obj and "dialplan" in obj:
                key = self.norm(obj["name"])
                self.key_by_id[obj["id"]] = key
                self.id_by_key[key] = obj["id"]
            for v in obj.values():
                self.learn(v)
        elif isinstance(obj, list):
            for v in obj:
                self.learn(v)


class Replayer:
    def __init__(self, lines, emu, engine, sounds_dir):
        self.lines = sorted(lines, key=lambda d: d["t"])
        self.emu, self.engine, self.sounds_dir = emu, engine, sounds_dir
        self.rec, self.ours = Side(), Side()
        self.bridge_map: dict[str, str] = {}
        self.ws: dict[str, EventsWs] = {}
        self.results: list[tuple[dict, int, object]] = []
        self.raw: list = []
        for d in self.lines:   # recorded ids → keys, in recording order
            self.rec.learn(d.get("response"))
            self.rec.learn(d.get("event"))

    # -- mapping recorded ids to ours
    def map_str(self, s: str) -> str:
        pairs = [(rid, self.ours.id_by_key.get(k)) for rid, k in self.rec.key_by_id.items()]
        pairs += list(self.bridge_map.items())
        for rid, oid in sorted(pairs, key=lambda p: -len(p[0])):
            if oid:
                s = re.sub(r"(?<![\w.])" + re.escape(rid) + r"(?![\w.])", oid, s)
        s = s.replace("127.0.0.1:8090", f"127.0.0.1:{self.engine.port}")
        return s.replace(SOUNDS, self.sounds_dir)

    def map_obj(self, obj):
        if isinstance(obj, str):
            return self.map_str(obj)
        if isinstance(obj, dict):
            return {k: self.map_obj(v) for k, v in obj.items()}
        return obj

    def unmap(self, s: str) -> str:
        return s.replace(self.sounds_dir, SOUNDS)

    # -- running
    def _label(self, d) -> str:
        return d.get("ws", "ws1")

    async def _events_until(self, t: float) -> None:
        for label, ws in self.ws.items():
            want = sum(1 for d in self.lines if d["dir"] == "event" and self._label(d) == label
                       and d["t"] < t)
            await ws.wait_count(want, timeout=6.0)
            for ev in ws.events:
                self.ours.learn(ev)

    async def run(self, client) -> None:
        t_prev = self.lines[0]["t"]
        for d in self.lines:
            await asyncio.sleep(max(0.0, (d["t"] - t_prev) * SCALE))
            t_prev = d["t"]
            kind = d["dir"]
            if kind == "ws" and d.get("action") == "open":
                self.ws[d.get("ws", "ws1")] = await EventsWs.open(self.emu.port)
            elif kind == "ws" and d.get("action") == "client-close":
                await self.ws[d.get("ws", "ws1")].close()
            elif kind == "rest":
                await self._events_until(d["t"])
                await self._rest(client, d)
            elif kind == "event":
                self._caller_action(d)
            elif kind == "note" and "closes the TCP connection" in d["text"]:
                self.engine.conns[-1].close()
        await self._events_until(float("inf"))
        await asyncio.sleep(0.05)
        for ws in self.ws.values():
            if not ws.closed.is_set():
                await ws.close()

    async def _rest(self, client, d) -> None:
        path = self.map_str(d["path"][len("/ari"):])
        query = self.map_obj(d.get("query") or {})
        body = self.map_obj(d["body"]) if d.get("body") else None
        resp = await self.send(client, d, path, query, body)
        data = resp.json() if resp.content else None
        self.results.append((d, resp.status_code, data))
        self.raw.append((d, resp))
        self.ours.learn(data)
        self.rec.learn(d.get("response"))
        rec = d.get("response")
        if isinstance(rec, dict) and "bridge_class" in rec and isinstance(data, dict):
            self.bridge_map[rec["id"]] = data["id"]

    async def send(self, client, d, path, query, body):
        return await client.request(d["method"], path, params=query, json=body)

    def _caller_action(self, d) -> None:
        ev = d["event"]
        ch = ev.get("channel") or {}
        key = self.rec.norm(ch.get("name", ""))
        call = next((c for c in self.emu.calls if self.ours.norm(c.channel.name) == key
                     and not c.ended), None)
        if call is None:
            return
        if ev["type"] == "ChannelDtmfReceived":
            # the digit ends now (the recorded event marks the end of the digit)
            self.emu.pbx.caller_dtmf(call, ev["digit"], ev["duration_ms"])
        elif ev["type"] == "ChannelHangupRequest" and ev["cause"] == 16 and "soft" not in ev:
            asyncio.ensure_future(call.hangup())

    # -- normalised views for comparison
    def norm_event(self, ev: dict, side: Side) -> tuple:
        def nval(v):
            return ",".join(side.norm(x) for x in v.split(",")) if isinstance(v, str) else v
        ch = ev.get("channel") or ev.get("peer")
        fields = [ev["type"], side.norm(ch["name"]) if ch else None,
                  ch["state"] if ch else None]
        for k in ("args", "cause", "cause_txt", "soft", "variable", "digit", "duration_ms",
                  "dialstatus", "dialplan_app"):
            if k in ev:
                fields.append((k, tuple(side.text(a) for a in ev[k]) if k == "args" else ev[k]))
        if "value" in ev:
            fields.append(("value", nval(ev["value"])))
        if "dialplan_app_data" in ev:
            fields.append(("data", side.text(ev["dialplan_app_data"])))
        if "playback" in ev:
            pb = ev["playback"]
            pid = "<generated>" if UUID_RX.fullmatch(pb["id"]) else pb["id"]
            fields.append(("playback", pid, pb["state"], self.unmap(pb["media_uri"]),
                           pb["target_uri"].split(":")[0]))
        if "bridge" in ev:
            b = ev["bridge"]
            fields.append(("bridge", b["name"], b["technology"],
                           tuple(side.key_by_id.get(c, c) for c in b["channels"])))
        if ch:
            dp = ch["dialplan"]
            fields.append(("dialplan", dp["context"], dp["priority"], dp["app_name"],
                           side.text(dp["app_data"])))
            fields.append(("caller", ch["caller"]["name"], ch["connected"]["name"]))
        return tuple(fields)


def shape(obj):
    """Keys (in order) of a JSON response, recursively for channel/bridge objects."""
    if isinstance(obj, dict):
        return tuple((k, shape(v) if isinstance(v, dict) else None) for k in obj
                     for v in [obj[k]])
    if isinstance(obj, list):
        return ("list", len(obj), tuple(sorted({shape(x) for x in obj}, key=repr)))
    return None


# Events whose relative order varied between real runs (FACT 30: the two ChannelDestroyed; the
# two ChannelConnectedLine of a two-party bridge; ChannelStateChange of the two Local halves;
# the first Dial (dial thread) against the ;2 half's first dialplan steps (its PBX thread), as in
# ari-fork-ulaw.jsonl).
def _swappable(a: tuple, b: tuple) -> bool:
    if a[0] == b[0] and a[0] in ("ChannelConnectedLine", "ChannelDestroyed",
                                 "ChannelStateChange"):
        return True
    first_dial = [e for e in (a, b) if e[0] == "Dial" and ("dialstatus", "") in e]
    other = [e for e in (a, b) if e[0] in ("ChannelDialplan", "ChannelStateChange")
             and e[1].endswith(";2")]
    return bool(first_dial and other)


def family(e: tuple) -> str:
    """Events of one Local pair, one channel, one playback or one bridge."""
    if e[1]:
        return re.sub(r";[12]$", "", e[1])
    for f in e[3:]:
        if isinstance(f, tuple) and f and f[0] in ("playback", "bridge"):
            return f"{f[0]}:{f[1]}"
    return e[0]


def _assert_ordered(got: list, want: list, what: str) -> None:
    got = list(got)
    for i in range(len(want)):
        if i < len(got) and got[i] != want[i]:
            for j in range(i + 1, min(i + 8, len(got))):
                if got[j] == want[i] and all(_swappable(got[k], want[i]) for k in range(i, j)):
                    got.insert(i, got.pop(j))
                    break
        assert i < len(got), f"{what}: missing event #{i}: {want[i]}"
        assert got[i] == want[i], f"{what}: event #{i}:\n got  {got[i]}\n want {want[i]}"
    assert len(got) == len(want), f"{what}: extra events: {got[len(want):]}"


def assert_same_events(got: list, want: list, want_t: list | None = None,
                       min_gap: float = 0.3) -> None:
    """``got`` has the events of ``want``: the same ones (multiset), in the same order within
    each family (a Local pair's two halves, a channel, a playback, a bridge), and, across
    families, in the same order wherever the recording had them ``min_gap`` seconds or more
    apart (closer ones came from independent threads in Asterisk: their order is not a fact)."""
    missing = Counter(want) - Counter(got)
    extra = Counter(got) - Counter(want)
    assert not missing and not extra, f"missing: {list(missing)}\nextra: {list(extra)}"
    for fam in dict.fromkeys(family(e) for e in want):
        _assert_ordered([e for e in got if family(e) == fam],
                        [e for e in want if family(e) == fam], fam)
    if want_t is None:
        return
    used: set[int] = set()
    pos = []
    for e in want:
        k = next(k for k, g in enumerate(got) if g == e and k not in used)
        used.add(k)
        pos.append(k)
    for i in range(len(want)):
        for j in range(i + 1, len(want)):
            if want_t[j] - want_t[i] >= min_gap:
                assert pos[i] < pos[j], f"order: {want[i]}\n must come before {want[j]}"
