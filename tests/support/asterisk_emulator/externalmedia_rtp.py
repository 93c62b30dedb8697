"""externalMedia over RTP (``encapsulation=rtp transport=udp``): the UnicastRTP channel.

Sequence (more/ M1, M14): the 200 answer carries a channel ``UnicastRTP/<external_host>-0x<hex>``
in state Down, dialplan ``default/s/1 AppDial2`` and ``channelvars`` UNICASTRTP_LOCAL_PORT /
UNICASTRTP_LOCAL_ADDRESS; then Dial (dialstring ``<external_host>/c(<format>)``), StateChange Up,
Dial ANSWER, STASISSTATUS="", StasisStart (Up). ``direction`` is accepted and ignored (M1).
``DELETE`` is the externalMedia sequence of teardown.py (M14). The leg's packets: rtp_leg.py.
"""
from __future__ import annotations

import asyncio
import itertools

from . import events as ev
from .model import Channel
from .rtp_leg import RTP_FORMATS, RtpLeg

leg_ids = itertools.count(0xe0)


class ExternalMediaRtpMixin:
    rtp_host = "127.0.0.1"   # UNICASTRTP_LOCAL_ADDRESS (Asterisk's rtp.conf bindaddr)
    rtp_leg_class = RtpLeg   # Asterisk's side of each leg (benchmarks swap it)

    async def rtp_channel(self, host: str, fmt: str, app: str, cid: str | None, variables: dict, error) -> dict:
        h, _, port = host.rpartition(":")
        try:
            port_no = int(port)
        except ValueError:
            raise error
        if not h or fmt not in RTP_FORMATS:
            raise error          # only the recorded formats (and slin) are emulated
        ch = Channel(id=cid or self.uniqueid(), name=f"UnicastRTP/{host}-0x7f21cc{id(leg_ids) & 0xFFFF:04x}{next(leg_ids):02x}",
                     kind="extmedia", state="Down", app_name="AppDial2", app_data="(Outgoing Line)")
        leg = self.rtp_leg_class(self.loop, ch, h, port_no, fmt)
        await leg.open(self.rtp_host)
        ch.leg = leg
        self.rtp_legs.append(leg)
        chanvars = {"UNICASTRTP_LOCAL_PORT": str(leg.local_port), "UNICASTRTP_LOCAL_ADDRESS": self.rtp_host}
        ch.vars.update(chanvars)
        for k, v in variables.items():
            ch.vars[k] = str(v)
        self.subscribe(ch, app, for_life=True)
        self.add_channel(ch)
        snap = ch.snapshot()
        snap["channelvars"] = chanvars
        ch.task = self.spawn(self._start_rtp_channel(ch, app, f"{host}/c({fmt})"))
        return snap

    async def _start_rtp_channel(self, ch, app: str, dialstring: str) -> None:
        await asyncio.sleep(self.stasis_delay)
        if not ch.alive:
            return
        self.emit(ev.dial(ch, "", dialstring), ch)
        self.set_state(ch, "Up")
        self.emit(ev.dial(ch, "ANSWER", dialstring), ch)
        if not self.enter_stasis(ch, app, []):
            self.extmedia_end(ch, 16, soft=False)
