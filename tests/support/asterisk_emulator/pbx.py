"""The emulated Asterisk core: registries, ids, Stasis entry/exit, channel destruction.

The behaviour lives in mixins, one file each: bridging (bridges.py), playbacks (playback.py),
originate/externalMedia/snoop/dialplan (origination.py), hang-up sequences (teardown.py) and the
20 ms audio tick (mixer.py). Everything runs on the event loop; state changes are synchronous and
publish their events at once, so event order is deterministic.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from . import events as ev
from .bridges import BridgingMixin
from .events import EventHub
from .externalmedia_rtp import ExternalMediaRtpMixin
from .externalmedia_websocket import ExternalMediaWebSocketMixin
from .mixer import MixerMixin
from .model import Channel
from .origination import OriginationMixin
from .playback import PlaybackMixin
from .recording import RecordingMixin
from .teardown import SNOOP_LEAVE_DELAY, TeardownMixin


log = logging.getLogger("asterisk_emulator")


class AriError(Exception):
    """A REST error response: ``{"<key>": "<message>"}`` with HTTP ``status``."""

    def __init__(self, status: int, message: str, key: str = "message"):
        super().__init__(f"{status} {message}")
        self.status, self.message, self.key = status, message, key


class Pbx(BridgingMixin, PlaybackMixin, RecordingMixin, OriginationMixin, ExternalMediaRtpMixin,
          ExternalMediaWebSocketMixin, TeardownMixin, MixerMixin):
    def __init__(self, *, app: str, audiosocket_address: tuple[str, int] | None,
                 sounds_dir: str | None, fork_context: str, stasis_context: str,
                 extra_contexts: dict | None = None, stasis_delay: float = 0.0005,
                 recordings_dir: str | None = None):
        self.loop = asyncio.get_running_loop()
        self.app = app
        self.audiosocket_address = audiosocket_address
        self.sounds_dir = sounds_dir
        self.recordings_dir = recordings_dir  # None: <sounds_dir>/../recording (recording.py)
        self.live_recordings: dict = {}
        self.fork_context = fork_context
        self.stasis_context = stasis_context
        self.extra_contexts = dict(extra_contexts or {})
        self.stasis_delay = stasis_delay
        self.hub = EventHub(app, self.loop.time)
        self.channels: dict[str, Channel] = {}
        self.bridges: dict = {}
        self.playbacks: dict[str, list] = {}
        self.calls: list = []
        self.audiosocket_log: list = []
        self.rtp_legs: list = []          # every externalMedia RTP leg (rtp_leg.RtpLeg), for tests
        self.websocket_legs: list = []    # every chan_websocket leg (websocket_media.MediaWsLeg)
        self.media_ws_pending: dict = {}  # connection id -> channel waiting for its connection
        self._epoch = int(time.time())
        self._uid = 0
        self._seq = 0x10
        self._snoop_seq = 0
        self._tasks: set[asyncio.Task] = set()
        self._handles: set[asyncio.TimerHandle] = set()
        self.closing = False
        self.errors: list[BaseException] = []   # bugs inside the emulator (see record_error)

    # ---- ids
    def uniqueid(self) -> str:
        self._uid += 1
        return f"{self._epoch}.{self._uid}"

    def next_seq(self) -> str:
        self._seq += 1
        return f"{self._seq:08x}"

    def next_snoop_seq(self) -> str:
        self._snoop_seq += 1
        return f"{self._snoop_seq:08x}"

    def id_taken(self, cid: str | None) -> bool:
        return bool(cid) and cid in self.channels

    # ---- tasks and timers (all cancelled at close)
    def record_error(self, exc: BaseException) -> None:
        """An unexpected exception inside the emulator: logged, kept in ``errors``, and raised
        again by ``AsteriskEmulator.aclose()`` so that no test passes over an emulator bug."""
        log.error("asterisk_emulator internal error", exc_info=exc)
        self.errors.append(exc)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.record_error(task.exception())

    def spawn(self, coro) -> asyncio.Task:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def later(self, delay: float, fn: Callable, *args) -> None:
        def run():
            self._handles.discard(handle)
            if not self.closing:
                try:
                    fn(*args)
                except Exception as exc:
                    self.record_error(exc)
        handle = self.loop.call_later(delay, run)
        self._handles.add(handle)

    async def aclose(self) -> None:
        self.closing = True
        for h in list(self._handles):
            h.cancel()
        self._handles.clear()
        for ch in list(self.channels.values()):
            if ch.leg is not None:
                ch.leg.close("shutdown")
        for call in self.calls:
            call._mark_ended(0)     # Asterisk is gone: say()/wait_ended() return
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- publishing
    def emit(self, event: dict, *channels) -> None:
        self.hub.publish(event, channels)

    def emit_app(self, event: dict) -> None:
        """Bridge and playback events: for the emulator's app."""
        self.hub.publish(event, app_level=True)

    # ---- channels
    def add_channel(self, ch: Channel) -> Channel:
        self.channels[ch.id] = ch
        self.hub.publish(ev.channel_event("ChannelCreated", ch), subscribe_all_only=True)
        return ch

    def set_state(self, ch: Channel, state: str) -> None:
        if ch.state != state:
            ch.state = state
            self.emit(ev.channel_event("ChannelStateChange", ch), ch)

    def set_var(self, ch: Channel, name: str, value: str) -> None:
        ch.vars[name] = value
        self.emit(ev.varset(ch, name, value), ch)

    def subscribe(self, ch: Channel, app: str, for_life: bool) -> None:
        ch.app, ch.subscribed = app, True
        ch.originated_by_app = ch.originated_by_app or for_life

    def enter_stasis(self, ch: Channel, app: str, args: list[str]) -> bool:
        """``Stasis(app,args)``: fails at once when the app has no events WebSocket (FACT 39)."""
        ch.set_app("Stasis", ",".join([app] + list(args)))
        if not self.hub.is_active(app):
            ch.vars["STASISSTATUS"] = "FAILED"
            return False
        self.set_var(ch, "STASISSTATUS", "")     # delivered only to app-originated channels
        self.subscribe(ch, app, for_life=False)
        ch.in_stasis, ch.stasis_args = True, list(args)
        self.emit(ev.stasis_start(ch, args), ch)
        if ch.call is not None and ch.kind == "caller":
            ch.call._mark_stasis("SUCCESS")
        return True

    def leave_stasis(self, ch: Channel) -> None:
        """StasisEnd; app-originated channels then get STASISSTATUS=SUCCESS (FACT 30), the
        caller and the snoop are no longer reported (FACT 28, snoop F26)."""
        if not ch.in_stasis:
            return
        ch.in_stasis = False
        self.emit(ev.channel_event("StasisEnd", ch), ch)
        if ch.originated_by_app:
            self.set_var(ch, "STASISSTATUS", "SUCCESS")
            if ch.kind in ("local1", "extmedia", "audiosocket"):
                ch.set_app("AppDial2", "(Outgoing Line)")
        else:
            ch.vars["STASISSTATUS"] = "SUCCESS"
            ch.subscribed = False
        fut = getattr(ch, "stasis_exit", None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    def destroy(self, ch: Channel, cause: int) -> None:
        """The channel is gone: ChannelDestroyed (if reported), then the AudioSocket closes
        (FACT 32: within 1.5 ms of ChannelDestroyed, no 0x00 frame)."""
        if not ch.alive:
            return
        ch.alive = False
        if ch.bridge is not None:
            self.bridge_remove(ch, hangup=True)
        for pb in list(ch.playbacks):
            self.drop_playback(pb)
        self.emit(ev.destroyed(ch, cause), ch)
        self.channels.pop(ch.id, None)
        if ch.leg is not None:
            ch.leg.close("hangup")
        if ch.spied is not None and ch in ch.spied.snoops:
            ch.spied.snoops.remove(ch)
        for s in list(ch.snoops):   # a snoop leaves by itself when its channel goes (snoop F25)
            self.later(SNOOP_LEAVE_DELAY, self.snoop_leave, s)
        task = getattr(ch, "task", None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        fut = getattr(ch, "stasis_exit", None)
        if fut is not None and not fut.done():
            fut.set_result(None)
        if ch.call is not None and ch.kind == "caller":
            ch.call._mark_ended(cause)

    # ---- lookups for REST
    def find_channel(self, cid: str) -> Channel | None:
        return self.channels.get(cid)

    def control(self, cid: str, missing_status: int = 404, missing: str = "Channel not found",
                not_stasis_status: int = 409) -> Channel:
        ch = self.channels.get(cid)
        if ch is None:
            raise AriError(missing_status, missing)
        if not ch.in_stasis:
            raise AriError(not_stasis_status, "Channel not in Stasis application")
        return ch

    def application_json(self, name: str) -> dict:
        chans = [c.id for c in self.channels.values() if c.subscribed and c.app == name]
        bridges = [b.id for b in self.bridges.values()] if name == self.app else []
        return {"name": name, "channel_ids": chans, "bridge_ids": bridges, "endpoint_ids": [],
                "device_names": [], "events_allowed": [], "events_disallowed": []}
