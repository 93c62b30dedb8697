"""Live calls and the indexes that route ARI events and AudioSocket connections to them.

Ids are chosen by the engine before each request (channelId, snoopId, bridgeId, playbackId),
so an event that arrives before the REST response (FACT 19, snoop F1) still finds its call.
"""

from __future__ import annotations

import uuid as uuidlib

import anyio

from ..observability.logs import get_logger
from ..transports.audiosocket.connection import AudioSocketConnection
from .call import Call, Leg

log = get_logger(__name__)


class CallRegistry:
    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self._by_channel: dict[str, Call] = {}
        self._by_bridge: dict[str, Call] = {}
        self._legs: dict[uuidlib.UUID, tuple[Call, Leg]] = {}
        self._emptied = anyio.Event()
        self._changed = anyio.Event()

    def __len__(self) -> int:
        return len(self.calls)

    def add(self, call: Call) -> None:
        self.calls[call.id] = call
        self.index_channel(call, call.caller_id)
        for bridge_id in (call.bridge_id, call.capture_bridge_id):
            self._by_bridge[bridge_id] = call
        self.index_channel(call, call.snoop_id)
        call.recorder.on_change = self.notify_changed
        self.notify_changed()

    def remove(self, call: Call) -> None:
        self.calls.pop(call.id, None)
        for index in (self._by_channel, self._by_bridge):
            for key in [k for k, v in index.items() if v is call]:
                del index[key]
        for key in [k for k, (c, _) in self._legs.items() if c is call]:
            del self._legs[key]
        call.events_in.close()
        if not self.calls:
            self._emptied.set()
            self._emptied = anyio.Event()
        self.notify_changed()

    def notify_changed(self) -> None:
        """Something a live view shows changed: a call came or went, or its record grew (web/)."""
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_changed(self) -> None:
        await self._changed.wait()

    async def wait_empty(self) -> None:
        while self.calls:
            await self._emptied.wait()

    def index_channel(self, call: Call, channel_id: str) -> None:
        self._by_channel[channel_id] = call

    def add_leg(self, call: Call, leg: Leg) -> None:
        for channel_id in leg.channel_ids:
            self.index_channel(call, channel_id)
        self._legs[leg.uuid] = (call, leg)

    def awaited_legs(self) -> int:
        """Legs the engine originated whose AudioSocket connection has not come yet."""
        return sum(1 for _, leg in self._legs.values() if leg.connection is None)

    def owns_channel(self, channel_id: str) -> bool:
        return channel_id in self._by_channel

    def owns_bridge(self, bridge_id: str) -> bool:
        return bridge_id in self._by_bridge

    def find(self, event: dict) -> Call | None:
        for key in ("channel", "peer", "caller"):
            obj = event.get(key)
            if isinstance(obj, dict) and (call := self._by_channel.get(obj.get("id", ""))):
                return call
        bridge = event.get("bridge")
        if isinstance(bridge, dict) and (call := self._by_bridge.get(bridge.get("id", ""))):
            return call
        playback = event.get("playback")
        if isinstance(playback, dict):
            kind, _, target = str(playback.get("target_uri", "")).partition(":")
            index = self._by_bridge if kind == "bridge" else self._by_channel
            return index.get(target)
        return None

    def deliver(self, call: Call, event: dict) -> None:
        try:
            call.events_in.send_nowait(event)
        except anyio.WouldBlock:
            log.error("call.event_queue_full", call_id=call.id, event=event.get("type"))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the call is ending

    def bind_connection(self, conn: AudioSocketConnection) -> str | None:
        """Give a new AudioSocket connection to the call that asked for its UUID."""
        assert conn.uuid is not None
        found = self._legs.get(conn.uuid)
        if found is None:
            return "unknown UUID"
        call, leg = found
        if leg.connection is not None:
            return f"UUID already bound to call {call.id}"
        leg.connection = conn
        leg.bound.set()
        log.info("audiosocket.leg_bound", call_id=call.id, role=leg.role)
        return None
