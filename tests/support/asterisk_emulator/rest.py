"""ARI REST: routing, parameters, authentication and the exact error answers.

Errors (asterisk_facts FACTS 47-59, ``rest-errors.jsonl``): 401 ``{"message":"Authentication
required"}`` with ``WWW-Authenticate: Basic realm="Asterisk REST Interface"``; ``addChannel`` of a
missing channel 400 (not 404), of a non-Stasis channel 422, on a missing bridge 404; ``answer``/
``play`` on a missing channel 404, on a non-Stasis one 409; unknown technology 500 with key
``error``; and so on. Query parameters and JSON body keys are both accepted (body keys other than
``variables`` are read as parameters, as ARI does).
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any

from . import swagger
from .events import dumps
from .pbx import AriError, Pbx
from .server import Request, Response
from .teardown import REASON_CAUSES

AUTH_HEADERS = [("WWW-Authenticate", 'Basic realm="Asterisk REST Interface"')]
MISSING_APP_HTML = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n'
    "<title>400 Bad Request</title>\r\n</head><body>\r\n<h1>Bad Request</h1>\r\n"
    "<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n"
    "<address>Asterisk/22.10.1</address>\r\n</body></html>\r\n")


def json_response(status: int, obj: Any = None, headers: list | None = None) -> Response:
    if status == 204 or obj is None:
        return Response(status, b"", None, headers or [])
    return Response(status, dumps(obj).encode(), "application/json", headers or [])


def error_response(err: AriError) -> Response:
    return json_response(err.status, {err.key: err.message})


def auth_failed() -> Response:
    return json_response(401, {"message": "Authentication required"}, list(AUTH_HEADERS))


def authorized(req: Request, username: str, password: str) -> bool:
    """Basic auth or ``api_key=user:password`` (FACT 47)."""
    expected = f"{username}:{password}"
    if "api_key" in req.query:
        return req.query["api_key"] == expected
    auth = req.header("authorization")
    if auth.lower().startswith("basic "):
        try:
            return base64.b64decode(auth[6:].strip()).decode("utf-8") == expected
        except (ValueError, UnicodeDecodeError):
            return False
    return False


def _params(req: Request) -> dict:
    params: dict = {k: v for k, v in req.query.items() if k != "api_key"}
    if req.body:
        try:
            body = json.loads(req.body)
        except ValueError:
            raise AriError(400, "Could not parse body")
        if isinstance(body, dict):
            for k, v in body.items():
                if k == "variables":
                    params[k] = v if isinstance(v, dict) else {}
                elif v is not None:
                    params[k] = v if isinstance(v, str) else json.dumps(v) \
                        if isinstance(v, (dict, list)) else str(v).lower() \
                        if isinstance(v, bool) else str(v)
    return params


def _truthy(v) -> bool:
    return str(v).lower() in ("true", "1", "yes", "on")


class RestApi:
    def __init__(self, pbx: Pbx):
        self.pbx = pbx
        R = self._route
        self.routes = [
            R("GET", r"/api-docs/resources\.json", self.resources),
            R("GET", r"/api-docs/(?P<name>[^/]+)\.json", self.declaration),
            R("GET", r"/asterisk/info", self.asterisk_info),
            R("GET", r"/applications", self.app_list),
            R("GET", r"/applications/(?P<name>[^/]+)", self.app_get),
            R("GET", r"/channels", self.channel_list),
            R("POST", r"/channels", self.originate),
            R("POST", r"/channels/externalMedia", self.external_media),
            R("GET", r"/channels/(?P<cid>[^/]+)", self.channel_get),
            R("POST", r"/channels/(?P<cid>[^/]+)", self.originate),
            R("DELETE", r"/channels/(?P<cid>[^/]+)", self.channel_hangup),
            R("POST", r"/channels/(?P<cid>[^/]+)/answer", self.channel_answer),
            R("POST", r"/channels/(?P<cid>[^/]+)/continue", self.channel_continue),
            R("POST", r"/channels/(?P<cid>[^/]+)/redirect", self.channel_redirect),
            R("POST", r"/channels/(?P<cid>[^/]+)/play", self.channel_play),
            R("POST", r"/channels/(?P<cid>[^/]+)/snoop", self.channel_snoop),
            R("GET", r"/channels/(?P<cid>[^/]+)/variable", self.channel_var_get),
            R("POST", r"/channels/(?P<cid>[^/]+)/variable", self.channel_var_set),
            R("POST", r"/channels/(?P<cid>[^/]+)/silence", self.silence_start),
            R("DELETE", r"/channels/(?P<cid>[^/]+)/silence", self.silence_stop),
            R("GET", r"/bridges", self.bridge_list),
            R("POST", r"/bridges", self.bridge_create),
            R("GET", r"/bridges/(?P<bid>[^/]+)", self.bridge_get),
            R("POST", r"/bridges/(?P<bid>[^/]+)", self.bridge_create),
            R("DELETE", r"/bridges/(?P<bid>[^/]+)", self.bridge_destroy),
            R("POST", r"/bridges/(?P<bid>[^/]+)/addChannel", self.bridge_add),
            R("POST", r"/bridges/(?P<bid>[^/]+)/removeChannel", self.bridge_remove),
            R("POST", r"/bridges/(?P<bid>[^/]+)/play", self.bridge_play),
            R("POST", r"/bridges/(?P<bid>[^/]+)/record", self.bridge_record),
            R("GET", r"/recordings/live/(?P<name>[^/]+)", self.recording_live),
            R("GET", r"/recordings/stored", self.recording_stored_list),
            R("GET", r"/recordings/stored/(?P<name>[^/]+)", self.recording_stored_get),
            R("DELETE", r"/recordings/stored/(?P<name>[^/]+)", self.recording_stored_delete),
            R("GET", r"/playbacks/(?P<pid>[^/]+)", self.playback_get),
            R("DELETE", r"/playbacks/(?P<pid>[^/]+)", self.playback_stop),
        ]

    @staticmethod
    def _route(method, pattern, fn):
        return method, re.compile("^/ari" + pattern + "$"), fn

    async def dispatch(self, req: Request) -> Response:
        path_known = False
        for method, rx, fn in self.routes:
            m = rx.match(req.path)
            if not m:
                continue
            path_known = True
            if method != req.method:
                continue
            try:
                return await fn(req, _params(req), **m.groupdict())
            except AriError as err:
                return error_response(err)
        if path_known:
            return json_response(405, {"message": "Invalid method"})
        return json_response(404, {"message": "Resource not found"})

    # ---- docs and info
    async def resources(self, req, p):
        return json_response(200, swagger.resources_listing(req.host))

    async def declaration(self, req, p, name):
        decl = swagger.api_declaration(name, req.host)
        if decl is None:
            return json_response(404, {"message": "Resource not found"})
        return json_response(200, decl)

    async def asterisk_info(self, req, p):
        return json_response(200, {
            "build": {"os": "Linux", "kernel": "6.1.0", "machine": "x86_64",
                      "options": "", "date": "2026-11-21 00:00:00 UTC", "user": "emulator"},
            "system": {"version": "22.10.1", "entity_id": "02:fc:00:00:00:01"},
            "config": {"name": "", "default_language": "en", "setid": {"user": "", "group": ""}},
            "status": {"startup_time": "2026-11-21T00:00:00.000+0000",
                       "last_reload_time": "2026-11-21T00:00:00.000+0000"}})

    async def app_list(self, req, p):
        return json_response(200, [self.pbx.application_json(n) for n in self.pbx.hub.apps])

    async def app_get(self, req, p, name):
        if name not in self.pbx.hub.apps:
            raise AriError(404, "Application not found")
        return json_response(200, self.pbx.application_json(name))

    # ---- channels
    async def channel_list(self, req, p):
        return json_response(200, [c.snapshot() for c in self.pbx.channels.values()])

    async def originate(self, req, p, cid=None):
        return json_response(200, await self.pbx.originate(p, channel_id=cid))

    async def external_media(self, req, p):
        return json_response(200, await self.pbx.external_media(p))

    def _channel(self, cid: str):
        ch = self.pbx.find_channel(cid)
        if ch is None:
            raise AriError(404, "Channel not found")
        return ch

    async def channel_get(self, req, p, cid):
        return json_response(200, self._channel(cid).snapshot())

    async def channel_hangup(self, req, p, cid):
        ch = self._channel(cid)
        cause = 32   # what a DELETE without reason produced (FACT 30, 33, 45)
        if p.get("reason_code"):
            try:
                cause = int(p["reason_code"])
            except ValueError:
                raise AriError(400, "Invalid reason for hangup provided")
        elif p.get("reason"):
            if p["reason"] not in REASON_CAUSES:
                raise AriError(400, "Invalid reason for hangup provided")
            cause = REASON_CAUSES[p["reason"]]
        self.pbx.hangup_channel(ch, cause)
        return json_response(204)

    async def channel_answer(self, req, p, cid):
        self.pbx.answer(self.pbx.control(cid))
        return json_response(204)

    async def channel_continue(self, req, p, cid):
        ch = self.pbx.control(cid)
        self.pbx.continue_in_dialplan(ch, p.get("context"), p.get("extension"),
                                      p.get("priority") or p.get("label"))
        return json_response(204)

    async def channel_redirect(self, req, p, cid):
        """Transfer facts M36: on a Local channel (every caller here) a redirect to a Local
        endpoint is answered 204 and does nothing (Asterisk logs "Unsupported transfer
        requested"); another technology is refused with 422."""
        ch = self.pbx.control(cid)
        endpoint = p.get("endpoint") or ""
        if not endpoint:
            raise AriError(400, "Required parameter endpoint not provided")
        tech = endpoint.partition("/")[0]
        own = ch.name.partition("/")[0]
        if tech.lower() != own.lower():
            raise AriError(422, f"Endpoint technology '{tech}' does not match channel technology '{own}'")
        return json_response(204)

    async def channel_play(self, req, p, cid):
        ch = self.pbx.control(cid)
        return self._play(ch, p)

    def _play(self, target, p):
        if not p.get("media"):
            raise AriError(500, "Failed to queue media for playback")   # FACT 59
        pb = self.pbx.play(target, p["media"], p.get("lang"), p.get("playbackId"))
        return json_response(201, pb.snapshot(), [("Location", f"/playbacks/{pb.id}")])

    async def channel_snoop(self, req, p, cid):
        return json_response(200, self.pbx.snoop(cid, p).snapshot())

    async def channel_var_get(self, req, p, cid):
        name = p.get("variable")
        if not name:
            raise AriError(400, "Variable name is required")
        ch = self.pbx.find_channel(cid)
        if ch is None:
            raise AriError(404, "Provided channel was not found")
        if name.endswith(")"):
            value = self._function(ch, name)
            if value is None:
                raise AriError(500, "Unable to read provided function")
        elif name in ch.vars:
            value = ch.vars[name]
        else:
            raise AriError(404, "Provided variable was not found")
        return json_response(200, {"value": value})

    @staticmethod
    def _native(ch) -> str:
        if ch.kind in ("extmedia", "audiosocket") and ch.leg is not None:
            return "slin" if ch.leg.rate == 8000 else f"slin{ch.leg.rate // 1000}"
        if ch.kind == "local2" and ch.peer is not None:
            ch = ch.peer
        if ch.formats:
            return ch.formats.split(",")[0].strip()
        return {"phone": "ulaw", "caller": "ulaw", "local1": "slin192"}.get(ch.kind, "slin")

    def _function(self, ch, name: str) -> str | None:
        """A few dialplan functions, with the values the recordings show (main: a slin fork
        makes the ulaw caller read/write slin; fork-ulaw: a ulaw fork and the ulaw caller are
        bridged natively in ulaw)."""
        native = self._native(ch)
        if ch.kind == "phone":
            read, write = native, "slin"
        elif ch.kind == "local2":
            read = write = "slin"
        else:
            b = ch.bridge
            same = (b is not None and not b.announcer and len(b.members) == 2
                    and len({self._native(m) for m in b.members}) == 1)
            read = write = native if same else "slin"
        values = {"CHANNEL(audionativeformat)": f"({native})",
                  "CHANNEL(audioreadformat)": read, "CHANNEL(audiowriteformat)": write,
                  "CHANNEL(name)": ch.name, "CHANNEL(uniqueid)": ch.id,
                  "CHANNEL(state)": ch.state, "CALLERID(num)": ch.caller["number"],
                  "CALLERID(name)": ch.caller["name"]}
        return values.get(name)

    async def channel_var_set(self, req, p, cid):
        if not p.get("variable"):
            raise AriError(400, "Variable name is required")
        ch = self.pbx.control(cid)
        self.pbx.set_var(ch, p["variable"], p.get("value", ""))
        return json_response(204)

    async def silence_start(self, req, p, cid):
        self.pbx.control(cid).silence_generator = True
        return json_response(204)

    async def silence_stop(self, req, p, cid):
        self.pbx.control(cid).silence_generator = False
        return json_response(204)

    # ---- bridges
    def _bridge(self, bid: str):
        b = self.pbx.bridges.get(bid)
        if b is None:
            raise AriError(404, "Bridge not found")
        return b

    async def bridge_list(self, req, p):
        return json_response(200, [b.snapshot() for b in self.pbx.bridges.values()])

    async def bridge_create(self, req, p, bid=None):
        bid = bid or p.get("bridgeId")
        if bid and req.path != "/ari/bridges" and bid in self.pbx.bridges:
            return json_response(200, self.pbx.bridges[bid].snapshot())   # createWithId
        return json_response(200, self.pbx.create_bridge(p.get("type"), bid, p.get("name"))
                             .snapshot())

    async def bridge_get(self, req, p, bid):
        return json_response(200, self._bridge(bid).snapshot())

    async def bridge_destroy(self, req, p, bid):
        self.pbx.destroy_bridge(self._bridge(bid))
        return json_response(204)

    def _controls(self, p) -> list:
        ids = [c for c in str(p.get("channel") or "").split(",") if c]
        if not ids:
            raise AriError(400, "Missing parameter channel")
        chans = []
        for cid in ids:
            ch = self.pbx.find_channel(cid)
            if ch is None:
                raise AriError(400, "Channel not found")
            if not ch.in_stasis:
                raise AriError(422, "Channel not in Stasis application")
            chans.append(ch)
        return chans

    async def bridge_add(self, req, p, bid):
        bridge = self._bridge(bid)
        for ch in self._controls(p):
            ch.bridge_mute = _truthy(p.get("mute", "false"))
            self.pbx.bridge_add(bridge, ch)
        return json_response(204)

    async def bridge_remove(self, req, p, bid):
        bridge = self._bridge(bid)
        chans = self._controls(p)
        if any(ch.bridge is not bridge for ch in chans):
            raise AriError(422, "Channel not in this bridge")
        for ch in chans:
            self.pbx.bridge_remove(ch)
        return json_response(204)

    async def bridge_play(self, req, p, bid):
        return self._play(self._bridge(bid), p)

    async def bridge_record(self, req, p, bid):
        rec = self.pbx.record_bridge(self._bridge(bid), p.get("name"), p.get("format"), p.get("ifExists"))
        return json_response(201, rec.snapshot())   # more/ M43

    # ---- recordings (more/ M44, M46)
    async def recording_live(self, req, p, name):
        rec = self.pbx.live_recordings.get(name)
        if rec is None:
            raise AriError(404, "Recording not found")
        return json_response(200, rec.snapshot())

    async def recording_stored_list(self, req, p):
        return json_response(200, self.pbx.stored_recordings())

    async def recording_stored_get(self, req, p, name):
        for rec in self.pbx.stored_recordings():
            if rec["name"] == name:
                return json_response(200, rec)
        raise AriError(404, "Recording not found")

    async def recording_stored_delete(self, req, p, name):
        if not self.pbx.delete_stored(name):
            raise AriError(404, "Recording not found")
        return json_response(204)

    # ---- playbacks
    async def playback_get(self, req, p, pid):
        pb = self.pbx.get_playback(pid)
        if pb is None:
            raise AriError(404, "Playback not found")
        return json_response(200, pb.snapshot())

    async def playback_stop(self, req, p, pid):
        if not self.pbx.stop_playback(pid):
            raise AriError(404, "Playback not found")
        return json_response(204)
