"""Bridges: create, add/remove channels, BRIDGEPEER and connected-line updates, destroy.

Recorded behaviour reproduced here:

* ``POST /bridges?type=mixing`` gives a ``simple_bridge`` of class ``stasis`` (FACT 5); a bridge
  playback (or a third party) makes it ``softmix`` and it goes back afterwards (FACT 23);
* no BridgeCreated without subscribeAll (FACT 3); ChannelEnteredBridge carries the updated
  ``channels`` list (FACT 5); adding a channel to the bridge it is in gives ChannelLeftBridge +
  ChannelEnteredBridge (FACT 58);
* with two or more parties every member gets ``ChannelVarset BRIDGEPEER`` (the other's name, or a
  comma list with the ``Announcer/ARI-...;2`` of a bridge playback: FACT 23); a leaving channel
  gets ``BRIDGEPEER=""`` first (FACT 28, 30, snoop F25);
* whenever a bridge becomes two-party (by a join or a leave, the announcer counting as a
  party) the members exchange connected-line data
  (ChannelConnectedLine for each one whose value changed; a Local ;1's ;2 half then reports
  ChannelCallerId: FACT 7 and the recordings' event order);
* bridges never go away by themselves (snoop F29); ``DELETE`` gives BridgeDestroyed with
  ``"channels":[]`` (FACT 31);
* the app hears of a bridge (BridgeDestroyed, bridge playback events) while a Stasis channel of
  it is in the bridge, and after a channel was hung up inside it, but not after its channels
  left by ``removeChannel`` (res_stasis subscribes the app per joined channel and the channel's
  Stasis loop drops its interest only when the channel leaves alive: ``rest-errors.jsonl`` has
  no BridgeDestroyed, FACTS 31 and snoop F29 have one).
"""
from __future__ import annotations

import uuid

from . import events as ev
from .model import Bridge, party

BRIDGE_TYPES = {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single",
                "sdp_label"}


class BridgingMixin:
    def create_bridge(self, type_: str | None, bridge_id: str | None, name: str | None) -> Bridge:
        from .pbx import AriError
        if bridge_id and bridge_id in self.bridges:
            raise AriError(409, f"Bridge with id '{bridge_id}' already exists")
        types = [t.strip() for t in (type_ or "mixing").split(",") if t.strip()]
        if not types or any(t not in BRIDGE_TYPES for t in types):
            raise AriError(500, "Unable to create bridge. Possible duplicate bridge id "
                                f"'{bridge_id if bridge_id else '(null)'}'")   # FACT 57
        kind = "holding" if "holding" in types else "mixing"
        b = Bridge(id=bridge_id or str(uuid.uuid4()), name=name or "", bridge_type=kind)
        self.bridges[b.id] = b
        self.hub.publish(ev.bridge_event("BridgeCreated", b), subscribe_all_only=True)
        return b

    def bridge_add(self, bridge: Bridge, ch) -> None:
        if ch.bridge is not None:
            self.bridge_remove(ch)
        bridge.members.append(ch)
        ch.bridge = bridge
        self.emit(ev.bridge_channel_event("ChannelEnteredBridge", bridge, ch), ch)
        self.update_bridge_peers(bridge)
        if bridge.participants == 2:
            self.exchange_connected_line(bridge)

    def bridge_subscribed(self, bridge: Bridge) -> bool:
        return bridge.residual > 0 or any(m.in_stasis and m.subscribed for m in bridge.members)

    def emit_bridge(self, event: dict, bridge: Bridge) -> None:
        self.hub.publish(event, app_level=self.bridge_subscribed(bridge))

    def bridge_remove(self, ch, hangup: bool = False) -> None:
        bridge = ch.bridge
        if bridge is None:
            return
        if hangup and ch.in_stasis:
            bridge.residual += 1
        if ch.vars.get("BRIDGEPEER"):
            self.set_var(ch, "BRIDGEPEER", "")
        bridge.members.remove(ch)
        ch.bridge = None
        self.emit(ev.bridge_channel_event("ChannelLeftBridge", bridge, ch), ch)
        self.update_bridge_peers(bridge)
        if bridge.participants == 2 and bridge.alive:
            self.exchange_connected_line(bridge)
        if not bridge.members:
            self.bridge_emptied(bridge)

    def update_bridge_peers(self, bridge: Bridge) -> None:
        if bridge.participants < 2:
            return
        names = [m.name for m in bridge.members] + ([bridge.announcer] if bridge.announcer else [])
        for m in list(bridge.members):
            others = [n for n in names if n != m.name]
            if bridge.recorder:   # more/ ari-record.jsonl: the recorder first, then join order
                others = [bridge.recorder, *others]
                value = ",".join(others)
            else:
                value = others[0] if len(others) == 1 else ",".join(sorted(others))
            if m.vars.get("BRIDGEPEER") != value:
                self.set_var(m, "BRIDGEPEER", value)

    def exchange_connected_line(self, bridge: Bridge) -> None:
        """Two parties: each one's connected line becomes the other's caller id."""
        members = list(bridge.members)
        if len(members) == 2:
            pairs = [(members[0], members[1].caller), (members[1], members[0].caller)]
        elif len(members) == 1 and (bridge.announcer or bridge.recorder):
            pairs = [(members[0], party())]   # FACT 23; more/ M45 (caller gone, recorder left)
        else:
            return
        for ch, other_caller in pairs:
            if ch.connected != other_caller:
                ch.connected = dict(other_caller)
                self.emit(ev.channel_event("ChannelConnectedLine", ch), ch)
                self._propagate_connected(ch)

    def _propagate_connected(self, ch) -> None:
        """A Local ;1 passes its connected line to its ;2 half as caller id."""
        peer = ch.peer
        if ch.kind != "local1" or peer is None or not peer.alive:
            return
        if peer.caller != ch.connected:
            peer.caller = dict(ch.connected)
            if peer.in_audiosocket:
                self.emit(ev.callerid(peer), peer)
            else:
                peer.pending_callerid = True

    def destroy_bridge(self, bridge: Bridge) -> None:
        for pb in list(bridge.playbacks):
            if pb.state == "playing":
                self.finish_playback(pb, "done", start_next=False)
            else:
                self.drop_playback(pb)
        bridge.announcer = None
        subscribed = self.bridge_subscribed(bridge)
        for ch in list(bridge.members):
            self.bridge_remove(ch)
        bridge.alive = False
        self.bridges.pop(bridge.id, None)
        self.hub.publish(ev.bridge_event("BridgeDestroyed", bridge), app_level=subscribed)
