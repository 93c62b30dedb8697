"""ARI events: exact shapes (key order as recorded) and delivery to the Stasis apps.

Key orders are those of the recordings (asterisk_facts FACT 1): most events are
``type, timestamp, <fields>, asterisk_id, application``; ChannelVarset starts with
``variable, value``; ChannelHangupRequest with ``cause[, soft]``; ApplicationReplaced is
``type, timestamp, application, asterisk_id``.

Delivery (FACTS 3, 7, 28, 36-40): an event about a channel goes to the app subscribed to that
channel; bridge and playback events go to the emulator's app. While an app has no events
WebSocket every event for it is dropped, not queued (FACT 37). A second WebSocket for the same
app takes over and the old one gets ApplicationReplaced and nothing more (FACT 40).
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, Iterable

from .model import ari_timestamp

ASTERISK_ID = "02:fc:00:00:00:01"


def dumps(obj: Any) -> str:
    """Asterisk writes compact JSON."""
    return json.dumps(obj, separators=(",", ":"))


# ---- builders (the order of keys matters) ---------------------------------------------------

def channel_event(etype: str, ch, **before_channel) -> dict:
    ev = {"type": etype, "timestamp": ari_timestamp()}
    ev.update(before_channel)
    ev["channel"] = ch.snapshot()
    return ev


def stasis_start(ch, args: list) -> dict:
    return channel_event("StasisStart", ch, args=list(args))


def varset(ch, variable: str, value: str) -> dict:
    return {"variable": variable, "value": value, "type": "ChannelVarset",
            "timestamp": ari_timestamp(), "channel": ch.snapshot()}


def hangup_request(ch, cause: int, soft: bool) -> dict:
    ev: dict = {"cause": cause}
    if soft:
        ev["soft"] = True
    ev.update({"type": "ChannelHangupRequest", "timestamp": ari_timestamp(),
               "channel": ch.snapshot()})
    return ev


CAUSE_TXT = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "No user responding",
             21: "Call Rejected", 32: "Normal circuit congestion",
             34: "Circuit/channel congestion"}


def destroyed(ch, cause: int) -> dict:
    return channel_event("ChannelDestroyed", ch, cause=cause,
                         cause_txt=CAUSE_TXT.get(cause, "Unknown"))


def dialplan(ch, app: str, data: str) -> dict:
    return channel_event("ChannelDialplan", ch, dialplan_app=app, dialplan_app_data=data)


def dtmf(ch, digit: str, duration_ms: int) -> dict:
    return channel_event("ChannelDtmfReceived", ch, digit=digit, duration_ms=duration_ms)


def callerid(ch) -> dict:
    return channel_event("ChannelCallerId", ch, caller_presentation=0,
                         caller_presentation_txt="Presentation Allowed, Not Screened")


def bridge_channel_event(etype: str, bridge, ch) -> dict:
    return {"type": etype, "timestamp": ari_timestamp(), "bridge": bridge.snapshot(),
            "channel": ch.snapshot()}


def bridge_event(etype: str, bridge) -> dict:
    return {"type": etype, "timestamp": ari_timestamp(), "bridge": bridge.snapshot()}


def dial(peer, dialstatus: str, dialstring: str) -> dict:
    return {"type": "Dial", "timestamp": ari_timestamp(), "dialstatus": dialstatus,
            "forward": "", "dialstring": dialstring, "peer": peer.snapshot()}


def playback_event(etype: str, pb) -> dict:
    return {"type": etype, "timestamp": ari_timestamp(), "playback": pb.snapshot()}


# ---- delivery -------------------------------------------------------------------------------

class AppState:
    def __init__(self, name: str):
        self.name = name
        self.ws = None              # the active events WebSocket (server.WsConnection)
        self.subscribe_all = False

    @property
    def active(self) -> bool:
        return self.ws is not None and not self.ws.closed


class EventHub:
    def __init__(self, main_app: str, clock: Callable[[], float]):
        self.main_app = main_app
        self.apps: dict[str, AppState] = {}
        self.log: list[dict] = []
        self._clock = clock
        self._waiters: list[tuple[Callable, bool, asyncio.Future]] = []

    # -- app registry
    def is_active(self, app: str | None) -> bool:
        st = self.apps.get(app or "")
        return bool(st and st.active)

    def attach(self, ws, apps: list[str], subscribe_all: bool) -> None:
        """A new events WebSocket for ``apps`` (FACT 40: it replaces the previous one)."""
        for name in apps:
            st = self.apps.setdefault(name, AppState(name))
            old = st.ws
            if old is not None and not old.closed and old is not ws:
                old.send_text(dumps({"type": "ApplicationReplaced", "timestamp": ari_timestamp(),
                                     "application": name, "asterisk_id": ASTERISK_ID}))
            st.ws = ws
            st.subscribe_all = subscribe_all

    def detach(self, ws) -> None:
        """The WebSocket is gone: its apps stay registered but inactive (FACT 36)."""
        for st in self.apps.values():
            if st.ws is ws:
                st.ws = None

    # -- publishing
    def _targets(self, channels: Iterable, app_level: bool, all_only: bool) -> list[str]:
        names: list[str] = []
        if not all_only:
            for ch in channels:
                if ch is not None and ch.subscribed and ch.app and ch.app not in names:
                    names.append(ch.app)
            if app_level and self.main_app not in names:
                names.append(self.main_app)
        for st in self.apps.values():
            if st.subscribe_all and st.name not in names:
                names.append(st.name)
        return names

    def publish(self, event: dict, channels: Iterable = (), *, app_level: bool = False,
                subscribe_all_only: bool = False) -> None:
        for name in self._targets(list(channels), app_level, subscribe_all_only):
            ev = dict(event)
            ev["asterisk_id"] = ASTERISK_ID
            ev["application"] = name
            st = self.apps.get(name)
            delivered = bool(st and st.active)
            if delivered:
                st.ws.send_text(dumps(ev))
            rec = {"t": self._clock(), "app": name, "event": ev, "delivered": delivered}
            self.log.append(rec)
            self._wake(rec)

    # -- waiting
    def _wake(self, rec: dict) -> None:
        for item in list(self._waiters):
            pred, delivered_only, fut = item
            if fut.done():
                continue
            if delivered_only and not rec["delivered"]:
                continue
            try:
                ok = pred(rec["event"])
            except Exception as exc:  # a broken predicate fails the waiting test
                fut.set_exception(exc)
                continue
            if ok:
                fut.set_result(rec["event"])

    async def wait_for(self, pred: Callable[[dict], bool], timeout: float,
                       since: int | None = 0, delivered_only: bool = True) -> dict:
        start = len(self.log) if since is None else since
        for rec in self.log[start:]:
            if (rec["delivered"] or not delivered_only) and pred(rec["event"]):
                return rec["event"]
        fut = asyncio.get_running_loop().create_future()
        item = (pred, delivered_only, fut)
        self._waiters.append(item)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiters.remove(item)
