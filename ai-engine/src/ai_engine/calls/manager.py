"""Admits new calls, refuses calls over capacity, routes ARI events to calls, and after every
ARI (re)connect resynchronises live calls and sweeps orphans.

`on_event` is called for every ARI event by the supervisor's reader: it never blocks (it only
indexes and queues); each call runs in its own task inside this manager's task group.
"""

from __future__ import annotations

import uuid as uuidlib

import anyio
import anyio.abc

from ..observability import metrics
from ..observability.logs import get_logger
from ..records.record import CallRecorder
from ..tools.registry import build_registries
from ..transports.ari.errors import AriError, AriUnavailable
from .call import Call, CallerAction, bridge_name_prefix, channel_prefix
from .deps import CallDeps
from .session import CallSession

log = get_logger(__name__)

ORPHAN_GRACE_S = 1.0  # a channel must stay unowned this long before the sweep acts on it
SWEEP_DELAY_S = 5.0  # a requested sweep waits this long (a storm of hang-ups passes first)


class CallManager:
    def __init__(self, deps: CallDeps):
        self.deps = deps
        self.registry = deps.registry
        self.accepting = True
        self._tg: anyio.abc.TaskGroup | None = None
        self._sweep_wanted = anyio.Event()
        deps.request_sweep = self.request_sweep
        if not deps.tools:
            deps.tools = build_registries(deps.settings.personas)  # knowledge bases indexed once, here

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            await self._sweep_when_asked()

    def request_sweep(self) -> None:
        """A call's teardown could not finish: sweep for what it left, soon."""
        self._sweep_wanted.set()

    async def _sweep_when_asked(self) -> None:
        while True:
            await self._sweep_wanted.wait()
            await anyio.sleep(SWEEP_DELAY_S)
            self._sweep_wanted = anyio.Event()
            if not self.deps.settings.ari.cleanup_orphans:
                continue
            try:
                await self.sweep_orphans()
            except (AriError, AriUnavailable) as exc:
                log.warning("ari.orphan_sweep_failed", error=str(exc))
            except Exception:  # a bug in the sweep must not stop the engine
                log.exception("ari.orphan_sweep_crashed")

    def on_event(self, event: dict) -> None:
        call = self.registry.find(event)
        if call is not None:
            self.registry.deliver(call, event)
        elif event.get("type") == "StasisStart":
            self._on_stasis_start(event)

    def _on_stasis_start(self, event: dict) -> None:
        assert self._tg is not None
        channel = event.get("channel") or {}
        channel_id = channel.get("id")
        args = [str(a) for a in event.get("args") or []]
        if not channel_id:
            return
        if args[:1] == ["leg"]:
            # A leg of a call this engine no longer knows (e.g. from before a restart).
            log.warning("call.orphan_leg", channel_id=channel_id, args=args)
            self._tg.start_soon(self._hangup, channel_id)
            return
        settings = self.deps.settings
        if not self.accepting or len(self.registry) >= settings.calls.max_concurrent_calls:
            reason = "shutting down" if not self.accepting else "max_concurrent_calls reached"
            metrics.CALLS.labels("refused").inc()
            log.warning("call.refused", channel_id=channel_id, reason=reason, active=len(self.registry))
            self._tg.start_soon(self._refuse, channel_id)
            self._record_refused(channel, args, reason)
            return
        persona_name = args[0] if args and args[0] in settings.personas else settings.calls.default_persona
        call = Call(settings.ari.app, channel, args, persona_name, settings.personas[persona_name])
        self.registry.add(call)
        self._tg.start_soon(CallSession(call, self.deps).run, name=f"call {call.id}")

    def end_call(self, call_id: str) -> bool:
        """An admin ends a live call (the admin page): the caller is hung up, the record says so.
        False when no such call is live."""
        call = self.registry.calls.get(call_id)
        if call is None:
            return False
        if not call.ended.is_set():
            call.recorder.ended_as("ended_by_admin")
            call.end("ended by an admin", caller_action=CallerAction.HANGUP)
            self.registry.notify_changed()  # live views show it ending
        return True

    def _record_refused(self, channel: dict, args: list[str], reason: str) -> None:
        """A refused call leaves a record too (outcome `refused`): the admin sees the overflow."""
        if self.deps.records is None:
            return
        settings = self.deps.settings
        persona_name = args[0] if args and args[0] in settings.personas else settings.calls.default_persona
        caller = channel.get("caller") or {}
        recorder = CallRecorder(
            uuidlib.uuid4().hex[:16],
            caller_number=caller.get("number", ""),
            caller_name=caller.get("name", ""),
            extension=str((channel.get("dialplan") or {}).get("exten", "")),
            persona=persona_name,
            provider=settings.personas[persona_name].provider,
        )
        self.deps.records.submit(recorder.finish("refused", reason))

    async def _refuse(self, channel_id: str) -> None:
        """A clear refusal, not silence: the call continues in the overflow context (or gets busy)."""
        await self._send_on(channel_id, self.deps.settings.calls.overflow_context)

    async def _send_on(self, channel_id: str, context: str) -> None:
        """The caller continues in `context` of the dialplan; if Asterisk refuses, congestion."""
        try:
            await self.deps.rest.continue_in_dialplan(channel_id, context)
        except (AriError, AriUnavailable) as exc:
            log.warning("call.continue_failed", channel_id=channel_id, context=context, error=str(exc))
            await self._hangup(channel_id, reason="congestion")

    async def _hangup(self, channel_id: str, reason: str | None = None) -> None:
        try:
            await self.deps.rest.hangup(channel_id, reason=reason)
        except (AriError, AriUnavailable) as exc:
            log.warning("call.hangup_failed", channel_id=channel_id, error=str(exc))

    async def on_ari_connected(self, first: bool) -> None:
        """Asterisk dropped every event while we were away (FACT 37): ask instead."""
        for call in list(self.registry.calls.values()):
            self.registry.deliver(call, {"type": "EngineResync"})
        if self.deps.settings.ari.cleanup_orphans:
            try:
                await self.sweep_orphans()
            except (AriError, AriUnavailable) as exc:
                log.warning("ari.orphan_sweep_failed", error=str(exc))
            except Exception:  # runs inside the ARI connection: a bug here must not cost every reconnect
                log.exception("ari.orphan_sweep_crashed")

    async def sweep_orphans(self) -> None:
        app = self.deps.settings.ari.app
        rest = self.deps.rest
        channels = [
            c for c in await rest.list_channels() if _in_app(c, app) and not self.registry.owns_channel(c.get("id", ""))
        ]
        bridges = [
            b
            for b in await rest.list_bridges()
            if str(b.get("name", "")).startswith(bridge_name_prefix(app)) and not self.registry.owns_bridge(b.get("id", ""))
        ]
        if not channels and not bridges:
            return
        await anyio.sleep(ORPHAN_GRACE_S)  # a call whose StasisStart is in flight gets registered meanwhile
        for channel in channels:
            channel_id = channel["id"]
            if self.registry.owns_channel(channel_id):
                continue
            if channel_id.startswith(channel_prefix(app)):  # a leg we made: hung up
                log.warning("ari.orphan_leg", channel_id=channel_id, name=channel.get("name"))
                await self._hangup(channel_id)
            else:  # a caller left in Stasis (e.g. by an engine that crashed): never dropped
                log.warning("ari.orphan_caller", channel_id=channel_id, name=channel.get("name"))
                await self._send_on(channel_id, self.deps.settings.calls.failure_context)
        for bridge in bridges:
            if not self.registry.owns_bridge(bridge["id"]):
                log.warning("ari.orphan_bridge", bridge_id=bridge["id"], name=bridge.get("name"))
                try:
                    await rest.destroy_bridge(bridge["id"])
                except (AriError, AriUnavailable) as exc:
                    log.warning("ari.orphan_bridge_failed", bridge_id=bridge["id"], error=str(exc))


def _in_app(channel: dict, app: str) -> bool:
    dialplan = channel.get("dialplan") or {}
    return dialplan.get("app_name") == "Stasis" and str(dialplan.get("app_data", "")).split(",")[0] == app
