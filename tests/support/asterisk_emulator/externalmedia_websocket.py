"""externalMedia over chan_websocket, server mode (``transport=websocket encapsulation=none
connection_type=server``, no external_host): the ``WebSocket/INCOMING/0x<hex>`` channel.

Sequence (more/ M15-M17, M31): the 200 answer carries the channel in state Down with
``channelvars`` MEDIA_WEBSOCKET_CONNECTION_ID (a UUID) and MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE;
Dial (dialstring ``INCOMING``) comes with it; nothing more until the agent connects to
``/media/<id>``; then, within a fraction of a millisecond, ChannelStateChange Up, Dial ANSWER,
STASISSTATUS="", StasisStart and the MEDIA_START text message. ``DELETE``: the externalMedia
sequence of teardown.py, then close 1000. The media connection: websocket_media.py.
"""
from __future__ import annotations

import itertools
import uuid as uuidlib

from . import events as ev
from .model import Channel
from .server import Response
from .websocket_media import WS_RATES, MediaWsLeg

_ids = itertools.count(0x1CD0, 0x40)


class ExternalMediaWebSocketMixin:
    ws_leg_class = MediaWsLeg   # Asterisk's side of each connection (benchmarks swap it)

    def websocket_channel(self, p: dict, error) -> dict:
        from .pbx import AriError
        fmt, app = p.get("format"), p["app"]
        if (p.get("connection_type") or "client").lower() != "server":
            raise AriError(501, "The encapsulation and/or transport is not supported")  # client mode: not emulated
        if fmt not in WS_RATES:
            raise error
        cid = p.get("channelId") or None
        if self.id_taken(cid):
            raise AriError(409, "Channel with given unique ID already exists")
        connection_id = str(uuidlib.uuid4())
        ch = Channel(id=cid or self.uniqueid(), name=f"WebSocket/INCOMING/0x7f2204{next(_ids):06x}", kind="extmedia",
                     state="Down", app_name="AppDial2", app_data="(Outgoing Line)")
        leg = self.ws_leg_class(self.loop, ch, connection_id, fmt)
        leg.hangup_requested = lambda: self.later(0, self._ws_hangup, ch)
        ch.leg = leg
        chanvars = {"MEDIA_WEBSOCKET_CONNECTION_ID": connection_id,
                    "MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE": str(leg.frame_bytes)}
        ch.vars.update(chanvars)
        for k, v in (p.get("variables") or {}).items():
            ch.vars[k] = str(v)
        ch.stasis_app = app
        self.subscribe(ch, app, for_life=True)
        self.add_channel(ch)
        self.media_ws_pending[connection_id] = ch
        self.websocket_legs.append(leg)
        self.emit(ev.dial(ch, "", "INCOMING"), ch)
        snap = ch.snapshot()
        snap["channelvars"] = chanvars
        return snap

    def media_ws_check(self, connection_id: str) -> Response | None:
        ch = self.media_ws_pending.get(connection_id)
        if ch is None or not ch.alive:
            live = any(leg.connection_id == connection_id and not leg.closed for leg in self.websocket_legs)
            if live:
                return Response(409, b"WebSocket instance already in use", "text/plain")
            return Response(404, b"WebSocket instance not found", "text/plain")
        return None

    def media_ws_opened(self, ws, connection_id: str) -> None:
        ch = self.media_ws_pending.pop(connection_id, None)
        if ch is None or not ch.alive:
            ws.close(1000)
            return
        self.set_state(ch, "Up")
        self.emit(ev.dial(ch, "ANSWER", "INCOMING"), ch)
        if not self.enter_stasis(ch, ch.stasis_app, []):
            self.extmedia_end(ch, 16, soft=False)
            return
        ch.leg.connected(ws)

    def media_ws_closed(self, ws) -> None:
        for leg in self.websocket_legs:
            if leg.ws is ws:
                leg.closed = True

    def _ws_hangup(self, ch) -> None:
        """HANGUP from the agent (M31): HangupRequest cause 16, ... ChannelDestroyed, close 1000."""
        self.extmedia_end(ch, 16, soft=False)
