"""Channels that come into being: originate (Local pairs, inbound calls), externalMedia,
snoop, answer, continue; and the little dialplan the Local ;2 halves run.

Dialplan contexts (as in asterisk_facts/README.md):

* ``<stasis_context>`` (``ai-agent-stasis``), pattern ``_X.``: ``NoOp``, ``Stasis(<app>,<args>)`` (the
  emulator's app, or the one `place_call(app=...)` names),
  ``Hangup()``. A Local originated there without ``app`` is an inbound call (:class:`Call`).
* ``<fork_context>`` (``ai-agent-media-fork``), pattern ``_[0-9a-f].``: ``NoOp``, ``Answer()``,
  ``AudioSocket(${EXTEN},<host:port>)``, ``NoOp(AudioSocket returned)``, ``Hangup()``.
* ``extra_contexts``: ``{name: [(app, data), ...]}`` with apps NoOp, Answer, Wait, Set, Stasis,
  AudioSocket, Hangup (``${EXTEN}``, ``${CHANNEL}`` and channel variables are substituted).

Sequences: FACT 2 (inbound call: 200 with ;1 Down, StasisStart ;2 Ring), FACT 6/7 (fork: 200
Down, then Dial, ChannelDialplan NoOp/Answer, StateChange ;2/;1 Up, Dial ANSWER,
STASISSTATUS="", StasisStart ;1 Up), ``Answer()`` waits up to 500 ms for the first media frame
before ``AudioSocket()`` starts (FACT 8: the connection comes ~16 ms after the originate),
FACT 39 (Stasis() fails at once without an events WebSocket and the dialplan goes on),
FACT 41/42 (externalMedia: TCP connection and UUID frame before the 200, then Dial,
StateChange Up, Dial ANSWER, STASISSTATUS="", StasisStart Up), snoop F1 (snoop: 200 Up, then
StasisStart), FACTS 52-55, 59 (errors).
"""
from __future__ import annotations

import asyncio
import re
import uuid as uuidlib

from . import events as ev
from .audiosocket_client import AudioSocketLeg
from .caller import Call
from .media import KNOWN_FORMATS, SLIN_FORMATS
from .model import Channel, party

INTERNAL_ERROR = "An internal error prevented this request from being handled"
ANSWER_MEDIA_WAIT = 0.5   # ast_answer() waits up to 500 ms for the first media frame


def parse_callerid(text: str | None) -> tuple[str, str]:
    if not text:
        return "", ""
    m = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    text = text.strip().strip('"')
    return ("", text) if re.fullmatch(r"[+0-9*#]+", text) else (text, "")


def _split_args(text: str | None) -> list[str]:
    return text.split(",") if text else []


class OriginationMixin:
    leg_class = AudioSocketLeg   # Asterisk's side of each AudioSocket connection (benchmarks swap it)

    # ---- dialplan
    def context_steps(self, ch) -> list[tuple[str, str]] | None:
        ctx, exten = ch.context, ch.exten
        if ctx == self.stasis_context:
            if not re.fullmatch(r"[0-9].+", exten or ""):
                return None
            args = getattr(ch, "stasis_args_override", None) or ["${EXTEN}"]
            app = getattr(ch, "stasis_app_override", None) or self.app
            return [("NoOp", "into stasis ${CHANNEL} arg=${EXTEN}"),
                    ("Stasis", ",".join([app] + list(args))), ("Hangup", "")]
        if ctx == self.fork_context:
            if not re.fullmatch(r"[0-9a-f].+", exten or ""):
                return None
            host, port = self.audiosocket_address or ("127.0.0.1", 8090)
            return [("NoOp", "media fork ${CHANNEL} uuid=${EXTEN}"), ("Answer", ""),
                    ("AudioSocket", f"${{EXTEN}},{host}:{port}"),
                    ("NoOp", "AudioSocket returned"), ("Hangup", "")]
        if ctx in self.extra_contexts:
            return list(self.extra_contexts[ctx])
        return None

    @staticmethod
    def _subst(data: str, ch) -> str:
        def repl(m):
            name = m.group(1)
            if name == "EXTEN":
                return ch.exten
            if name == "CHANNEL":
                return ch.name
            return str(ch.vars.get(name, ""))
        return re.sub(r"\$\{([^}]+)\}", repl, data)

    async def run_dialplan(self, ch, priority: int = 1) -> None:
        while ch.alive:
            steps = self.context_steps(ch)
            if steps is None or priority > len(steps):
                self.dialplan_hangup(ch)
                return
            app, data = steps[priority - 1]
            data = self._subst(data, ch)
            ch.priority = priority
            ch.set_app(app, data)
            self.emit(ev.dialplan(ch, app, data), ch)
            handler = getattr(self, "_app_" + app.lower(), None)
            result = await handler(ch, data) if handler else None
            if result == "stop" or not ch.alive:
                return
            if isinstance(result, tuple):
                ch.context, ch.exten, priority = result
                continue
            priority += 1

    async def _app_noop(self, ch, data):
        return None

    async def _app_set(self, ch, data):
        name, _, value = data.partition("=")
        self.set_var(ch, name.strip(), value)

    async def _app_wait(self, ch, data):
        try:
            await asyncio.sleep(float(data or 0))
        except ValueError:
            pass

    async def _app_hangup(self, ch, data):
        self.dialplan_hangup(ch)
        return "stop"

    async def _app_answer(self, ch, data):
        if ch.state == "Up":
            return None
        self.set_state(ch, "Up")
        peer = ch.peer
        if peer is not None and peer.alive:
            self.set_state(peer, "Up")
            self._local_answered(peer)
        if ch.alive:
            ch.media_event = asyncio.Event()
            try:
                await asyncio.wait_for(ch.media_event.wait(), ANSWER_MEDIA_WAIT)
            except asyncio.TimeoutError:
                pass
            finally:
                ch.media_event = None
        return None

    async def _app_stasis(self, ch, data):
        app, *args = data.split(",")
        ch.stasis_exit = self.loop.create_future()
        if not self.enter_stasis(ch, app, args):
            if ch.call is not None:
                ch.call._mark_stasis("FAILED")
            return None     # FACT 39: the dialplan goes on
        await ch.stasis_exit
        if not ch.alive:
            return "stop"
        if ch.continue_to is not None:
            target, ch.continue_to = ch.continue_to, None
            return target
        return None

    async def _app_audiosocket(self, ch, data):
        args = data.split(",")
        host, _, port = args[-1].rpartition(":") if len(args) == 2 else ("", "", "")
        try:
            uid = str(uuidlib.UUID(args[0]))
            port_no = int(port)
        except ValueError:
            uid, port_no = None, 0
        if ch.pending_callerid:
            ch.pending_callerid = False
            self.emit(ev.callerid(ch), ch)
        if uid is None or not host or ch.state != "Up":
            self.local2_failed(ch)   # two args, a UUID, an answered channel (docs/architecture.md §3)
            return "stop"
        ch.in_audiosocket = True
        local1 = ch.peer
        rate = 8000
        if local1 is not None and local1.formats:
            rate = SLIN_FORMATS.get(local1.formats.split(",")[0].strip(), 8000)
        leg = self.leg_class(self.loop, ch, uid, host, port_no, rate=rate, local_fork=True,
                             half_amplitude=bool(local1 is not None and local1.half_amplitude))
        self.audiosocket_log.append(leg.log)
        ch.leg = leg
        if not await leg.connect():
            ch.in_audiosocket = False
            self.local2_failed(ch)
            return "stop"
        reason = await leg.run()
        ch.in_audiosocket = False
        if reason == "returned":
            leg.close("returned")
            return None            # NoOp(AudioSocket returned), Hangup(): FACT 35
        if reason in ("error", "timeout"):
            self.local2_failed(ch)
        return "stop"

    # ---- originate
    async def originate(self, p: dict, channel_id: str | None = None) -> dict:
        from .pbx import AriError
        endpoint = p.get("endpoint") or ""
        if not endpoint:
            raise AriError(400, "Endpoint must be specified")
        if p.get("originator") and p.get("formats"):
            raise AriError(400, "Originator and formats can't both be specified")
        tech, _, device = endpoint.partition("/")
        if not tech or not device:
            raise AriError(400, "Invalid endpoint specified")
        if not p.get("app") and not p.get("extension"):
            raise AriError(400, "Application or extension must be specified")
        formats = p.get("formats") or None
        for f in (formats or "").split(","):
            if formats and f.strip() not in KNOWN_FORMATS:
                raise AriError(400, f"Provided format ({f.strip()}) was not found")
        cid = channel_id or p.get("channelId") or None
        other = p.get("otherChannelId") or None
        if self.id_taken(cid) or self.id_taken(other):
            raise AriError(409, "Channel with given unique ID already exists")
        variables = p.get("variables") or {}
        if tech.lower() == "local":
            return self.originate_local(device, p, formats, cid, other, variables).snapshot()
        if tech == "AudioSocket" and p.get("app"):
            host, _, uid = device.rpartition("/")
            snap = await self._audiosocket_channel(
                host, uid, (formats or "slin").split(",")[0].strip(), p["app"], cid, variables,
                AriError(500, "Allocation failed", key="error"), kind="audiosocket")
            snap.pop("channelvars", None)
            return snap
        raise AriError(500, "Allocation failed", key="error")   # FACT 52

    def originate_local(self, device: str, p: dict, formats: str | None, cid: str | None,
                        other: str | None, variables: dict, silence: str = "zeros",
                        stasis_args: list[str] | None = None, stasis_app: str | None = None) -> Channel:
        exten_ctx = device.split("/", 1)[0]
        exten, _, context = exten_ctx.partition("@")
        context = context or "default"
        base = f"Local/{exten}@{context}-{self.next_seq()}"
        name, number = parse_callerid(p.get("callerId"))
        app = p.get("app") or None
        ch1 = Channel(id=cid or self.uniqueid(), name=base + ";1", kind="local1", state="Down",
                      caller=party(name, number), connected=party(name, number),
                      context=context, exten=exten, priority=1, app_name="AppDial2",
                      app_data="(Outgoing Line)")
        ch2 = Channel(id=other or self.uniqueid(), name=base + ";2", kind="local2", state="Ring",
                      caller=party(name, number), connected=party(name, number),
                      context=context, exten=exten, priority=1)
        ch1.peer, ch2.peer = ch2, ch1
        ch1.formats = formats
        ch1.half_amplitude = formats is None          # slin192 (docs/architecture.md §3)
        for k, v in variables.items():
            ch1.vars[k] = str(v)
        if app:
            self.subscribe(ch1, app, for_life=True)
            self.subscribe(ch2, app, for_life=True)
            ch1.stasis_args = _split_args(p.get("appArgs"))
            ch1.stasis_app = app
        else:
            ch1.after_answer = (p.get("context") or "default", p.get("extension") or "s",
                                int(p.get("priority") or 1))
            if context == self.stasis_context:
                ch1.kind, ch2.kind = "phone", "caller"
                call = Call(self, ch1, ch2, silence=silence)
                ch1.call = ch2.call = call
                self.calls.append(call)
                if stasis_args:
                    ch2.stasis_args_override = list(stasis_args)
                if stasis_app:
                    ch2.stasis_app_override = stasis_app
        self.add_channel(ch1)
        self.add_channel(ch2)
        ch2.task = self.spawn(self._start_local(ch1, ch2, device, variables))
        return ch1

    async def _start_local(self, ch1, ch2, dialstring: str, variables: dict) -> None:
        await asyncio.sleep(self.stasis_delay)
        if self.context_steps(ch2) is None:      # FACT 53: no such context / extension
            self.destroy(ch2, 0)
            self.destroy(ch1, 0)
            self._pair_call_ended(ch2, 0)
            return
        for k, v in variables.items():
            self.set_var(ch2, k, str(v))
        if getattr(ch1, "stasis_app", None):
            self.emit(ev.dial(ch1, "", dialstring), ch1)
        ch1.dialstring = dialstring
        await self.run_dialplan(ch2)

    def _local_answered(self, ch1) -> None:
        app = getattr(ch1, "stasis_app", None)
        if app:
            self.emit(ev.dial(ch1, "ANSWER", getattr(ch1, "dialstring", "")), ch1)
            if not self.enter_stasis(ch1, app, ch1.stasis_args):
                self.later(0, self.local_pair_gone, ch1, 16)
            return
        ctx, exten, prio = getattr(ch1, "after_answer", ("default", "s", 1))
        ch1.context, ch1.exten, ch1.priority = ctx, exten, prio
        ch1.set_app("", "")
        if ch1.kind != "phone" and ctx in self.extra_contexts:
            ch1.task = self.spawn(self.run_dialplan(ch1, prio))

    def answer(self, ch) -> None:
        """``POST /channels/{id}/answer``: ChannelStateChange Up before the 204 (FACT 4)."""
        if ch.state != "Up":
            self.set_state(ch, "Up")
        peer = ch.peer
        if peer is not None and peer.alive and peer.state != "Up":
            self.set_state(peer, "Up")
            if ch.kind == "caller":
                ctx, exten, prio = getattr(peer, "after_answer", ("default", "s", 1))
                peer.context, peer.exten, peer.priority = ctx, exten, prio
        if ch.call is not None:
            ch.call._mark_answered(self.loop.time())

    def continue_in_dialplan(self, ch, context, extension, priority) -> None:
        if ch.bridge is not None:
            self.bridge_remove(ch)
        ch.continue_to = (context or ch.context, extension or ch.exten,
                          int(priority) if priority else ch.priority + 1)
        self.leave_stasis(ch)
        if ch.kind not in ("caller", "local2"):
            self.later(0, self.hangup_channel, ch, 16)

    # ---- externalMedia
    async def external_media(self, p: dict) -> dict:
        from .pbx import AriError
        app, host, fmt = p.get("app"), p.get("external_host"), p.get("format")
        if not app:
            raise AriError(400, "app cannot be empty")
        if (p.get("transport") or "").lower() == "websocket":
            return self.websocket_channel(p, AriError(500, INTERNAL_ERROR))
        if not host:
            raise AriError(400, "external_host is required for all but websocket server "
                                "connections")
        if not fmt:
            raise AriError(400, "format cannot be empty")
        encap = (p.get("encapsulation") or "rtp").lower()
        transport = (p.get("transport") or "udp").lower()
        if encap == "rtp" and transport != "udp":
            raise AriError(400, "transport must be 'udp' for rtp encapsulation")
        if encap == "rtp":
            if self.id_taken(p.get("channelId") or None):
                raise AriError(409, "Channel with given unique ID already exists")
            return await self.rtp_channel(host, fmt, app, p.get("channelId") or None,
                                          p.get("variables") or {}, AriError(500, INTERNAL_ERROR))
        if encap != "audiosocket":
            raise AriError(501, "The encapsulation and/or transport is not supported")
        if transport != "tcp":
            raise AriError(400, "transport must be 'tcp' for audiosocket encapsulation")
        if not p.get("data"):
            raise AriError(400, "data can not be empty")
        cid = p.get("channelId") or None
        if self.id_taken(cid):
            raise AriError(409, "Channel with given unique ID already exists")
        return await self._audiosocket_channel(host, p["data"], fmt, app, cid,
                                               p.get("variables") or {},
                                               AriError(500, INTERNAL_ERROR), kind="extmedia")

    async def _audiosocket_channel(self, host: str, data: str, fmt: str, app: str,
                                   cid: str | None, variables: dict, error, kind: str) -> dict:
        h, _, port = host.rpartition(":")
        try:
            uid = str(uuidlib.UUID(data))
            port_no = int(port)
        except ValueError:
            raise error
        if fmt not in SLIN_FORMATS or not h:
            raise error     # FACT 54 (unknown format); only slin* is emulated
        ch = Channel(id=cid or self.uniqueid(), name=f"AudioSocket/{host}-{data}", kind=kind,
                     state="Down", app_name="AppDial2", app_data="(Outgoing Line)")
        ch.vars.update({"AUDIOSOCKET_SERVICE": host, "AUDIOSOCKET_UUID": data})
        for k, v in variables.items():
            ch.vars[k] = str(v)
        leg = self.leg_class(self.loop, ch, uid, h, port_no, rate=SLIN_FORMATS[fmt],
                             local_fork=False)
        self.audiosocket_log.append(leg.log)
        if not await leg.connect(timeout=1.0):
            raise error
        ch.leg = leg
        self.subscribe(ch, app, for_life=True)
        self.add_channel(ch)
        snap = ch.snapshot()
        snap["channelvars"] = {"AUDIOSOCKET_SERVICE": host, "AUDIOSOCKET_UUID": data}
        ch.task = self.spawn(self._start_audiosocket_channel(ch, app, [data], f"{host}/{data}"))
        return snap

    async def _start_audiosocket_channel(self, ch, app: str, args: list, dialstring: str):
        await asyncio.sleep(self.stasis_delay)
        self.emit(ev.dial(ch, "", dialstring), ch)
        self.set_state(ch, "Up")
        self.emit(ev.dial(ch, "ANSWER", dialstring), ch)
        if not self.enter_stasis(ch, app, args):
            self.extmedia_end(ch, 16, soft=False)
            return
        reason = await ch.leg.run()
        if reason in ("returned", "error") and ch.alive:
            ch.leg.close(reason)
            self.extmedia_end(ch, 16, soft=False)

    # ---- snoop
    def snoop(self, channel_id: str, p: dict, snoop_id: str | None = None) -> Channel:
        from .pbx import AriError
        spy, whisper = p.get("spy") or "none", p.get("whisper") or "none"
        valid = {"none", "both", "out", "in"}
        if spy not in valid:
            raise AriError(400, "Invalid direction specified for spy")
        if whisper not in valid:
            raise AriError(400, "Invalid direction specified for whisper")
        if spy == "none" and whisper == "none":
            raise AriError(400, "Direction must be specified for at least spy or whisper")
        app = p.get("app")
        if not app:
            raise AriError(400, "Application name is required")
        target = self.channels.get(channel_id)
        if target is None:
            raise AriError(404, "Provided channel was not found")
        sid = snoop_id or p.get("snoopId") or None
        if self.id_taken(sid):
            raise AriError(500, "Snoop channel could not be created")
        s = Channel(id=sid or self.uniqueid(), name=f"Snoop/{target.id}-{self.next_snoop_seq()}",
                    kind="snoop", state="Up")
        s.spied, s.spy, s.whisper = target, spy, whisper
        target.snoops.append(s)
        self.add_channel(s)
        self.later(self.stasis_delay, self._snoop_enter, s, app, _split_args(p.get("appArgs")))
        return s

    def _snoop_enter(self, s, app: str, args: list) -> None:
        if s.alive and s.spied is not None and s.spied.alive:
            if self.enter_stasis(s, app, args):
                return
        self.destroy(s, 16)
