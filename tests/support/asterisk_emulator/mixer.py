"""The 20 ms audio tick: who sends what, what every bridge member hears.

Per tick (driven by clock.MediaClock, absolute deadlines):

1. every channel produces what it sends toward its bridge (``tx``):
   the caller its voice (muted while a channel playback plays on it: FACT 26), a snoop the
   caller's own voice, zeros while the caller is silent (spy=in: snoop F2-F5), a Local fork ;1 and
   an externalMedia leg what the engine sent on the AudioSocket (at most one frame);
2. every bridge mixes: a two-party ``simple_bridge`` passes the other member's frame through, or
   nothing when the other sends nothing (FACT 15); a ``softmix`` bridge (announcer = bridge
   playback, or 3+ members) gives every member the sum of the others plus the playback, every
   tick (FACT 24: the fork hears the prompt at full level mixed with the caller);
3. a channel playback replaces what its channel hears (FACT 25, 26);
4. delivery: the caller records what it heard; a Local ;1 passes its frame to its ;2 half, whose
   AudioSocket sends it (half amplitude for slin192); an externalMedia leg sends it; the snoop
   discards it. Nothing heard = no frame sent (FACT 15).
"""
from __future__ import annotations

import numpy as np

from .media import mix
from .model import SAMPLES_PER_TICK

ZEROS = np.zeros(SAMPLES_PER_TICK, dtype=np.int16)


class MixerMixin:
    def tick(self, t: float) -> None:
        chans = [c for c in self.channels.values() if c.alive]
        # 1. what everyone sends
        for ch in chans:
            ch.voice = self._voice(ch)
        for ch in chans:
            ch.tx = self._tx(ch)
        # 2. bridges
        heard: dict = {}
        for bridge in list(self.bridges.values()):
            ann = self.tick_playback(bridge) if bridge.playing else None
            if bridge.recording is not None:
                self.tick_recording(bridge, ann)
            members = list(bridge.members)
            if bridge.technology == "simple_bridge" and not bridge.announcer:
                if len(members) == 2:
                    a, b = members
                    heard[a.id], heard[b.id] = b.tx, a.tx
                continue
            for m in members:
                parts = [o.tx for o in members if o is not m and o.tx is not None]
                if ann is not None:
                    parts.append(ann)
                heard[m.id] = mix(parts) if parts else ZEROS.copy()
        # 3. channel playbacks replace the bridge audio; 4. delivery
        for ch in chans:
            frame = heard.get(ch.id)
            if ch.playing is not None:
                frame = self.tick_playback(ch)
                if frame is None and ch.playing is None:
                    frame = heard.get(ch.id)
            ch.heard = frame
            if ch.alive:
                self._deliver(ch, frame, t)

    def _voice(self, ch):
        if ch.kind == "caller":
            call = ch.call
            if call is None or not call.answered or call.ended:
                return None
            return call._next_voice()
        if ch.kind == "local1":
            leg = ch.peer.leg if ch.peer is not None else None
            return leg.pull_frame() if leg is not None and not leg.closed else None
        if ch.kind in ("extmedia", "audiosocket"):
            return ch.leg.pull_frame() if ch.leg is not None and not ch.leg.closed else None
        return None

    def _tx(self, ch):
        if ch.kind == "snoop":
            target = ch.spied
            if target is None or not target.alive:
                return None
            parts = []
            if ch.spy in ("in", "both"):
                parts.append(target.voice if target.voice is not None else ZEROS)
            if ch.spy in ("out", "both") and target.heard is not None:
                parts.append(target.heard)
            return mix(parts) if parts else None
        if ch.playing is not None:   # FACT 26: the caller is not heard during its playback
            return None
        if getattr(ch, "bridge_mute", False):   # addChannel ...&mute=true
            return None
        return ch.voice

    def _deliver(self, ch, frame, t: float) -> None:
        if ch.kind == "caller":
            call = ch.call
            if call is not None and call.answered and not call.ended:
                call._record_heard(t, frame)
        elif ch.kind == "local1":
            ch2 = ch.peer
            if frame is None or ch2 is None or not ch2.alive:
                return
            if ch2.media_event is not None:
                ch2.media_event.set()
            if ch2.leg is not None and ch2.in_audiosocket and not ch2.leg.closed:
                ch2.leg.send_audio(frame)
        elif ch.kind in ("extmedia", "audiosocket"):
            if frame is not None and ch.leg is not None and not ch.leg.closed:
                ch.leg.send_audio(frame)

    # ---- DTMF (FACT 17, 44; snoop F16-F17)
    def caller_dtmf(self, call, digit: str, duration_ms: int) -> None:
        from . import events as ev
        ch = call.channel
        if not ch.alive:
            return
        self.emit(ev.dtmf(ch, digit, duration_ms), ch)
        bridge = ch.bridge
        if bridge is None:
            return
        for other in list(bridge.members):
            if other is ch:
                continue
            if other.kind == "local1" and other.peer is not None and other.peer.alive:
                ch2 = other.peer
                self.emit(ev.dtmf(ch2, digit, duration_ms), ch2)
                if ch2.leg is not None and ch2.in_audiosocket:
                    ch2.leg.send_dtmf(digit)
            elif other.kind in ("extmedia", "audiosocket") and other.leg is not None:
                other.leg.send_dtmf(digit)
