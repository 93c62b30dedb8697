"""Transfers to a human, on ARI, as the transfer facts (tests/asterisk_facts/more/, M33-M40) show.

Blind (`continue`): `POST /channels/{caller}/continue?context&extension&priority` -> 204; the
caller leaves our bridge and Stasis at once (ChannelLeftBridge + StasisEnd, M33) and hears the
target immediately (M34); after that no events of the caller come to us. The snoop stays up in
its bridge (M34): teardown hangs it up with our other legs. (`redirect` to a Local endpoint is
answered 204 and does nothing, M36: never used.)

Attended: we originate `Local/<extension>@<context>` into our app (its `;1` gets StasisStart
only once the target answered, M37), wait for that within the target's `answer_timeout_s`, and
add it to the caller's bridge (M38); then our own legs leave (DELETE, M39) and the call is only
the caller and the target until one of them hangs up: the other is then hung up by teardown
(the target stays in the bridge by itself when the caller leaves, M40). A target that does not
answer in time, or fails, is hung up and the caller stays with the agent.
"""

from __future__ import annotations

import anyio

from ..observability import metrics
from ..observability.logs import get_logger
from ..tools.settings import TransferTarget
from ..transports.ari.errors import AriError, AriUnavailable
from .call import Call, CallerAction
from .deps import CallDeps

log = get_logger(__name__)


class TransferLeg:
    """The channel an attended transfer dials: its ids chosen before the request."""

    def __init__(self, call: Call, target: str):
        self.target = target
        self.channel_id = f"{call.legs_prefix}-transfer"
        self.other_channel_id = f"{self.channel_id};2"
        self.answered = anyio.Event()
        self.gone = anyio.Event()

    def on_event(self, kind: str, channel_id: str) -> bool:
        """An ARI event of this leg; True when it was one."""
        if channel_id not in (self.channel_id, self.other_channel_id):
            return False
        if kind == "StasisStart" and channel_id == self.channel_id:
            self.answered.set()
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            self.gone.set()
        return True


async def blind(call: Call, deps: CallDeps, name: str, target: TransferTarget) -> dict:
    try:
        await deps.rest.continue_in_dialplan(call.caller_id, target.context, target.extension, target.priority)
    except (AriError, AriUnavailable) as exc:
        log.warning("transfer.failed", target=name, mode="blind", error=str(exc))
        metrics.TRANSFERS.labels("blind", "failed").inc()
        return {"transferred": False, "reason": "the transfer could not be made; apologise and offer to help otherwise"}
    call.transferred_to = name
    call.recorder.transfer(name)
    call.recorder.ended_as("transferred")
    log.info("transfer.done", target=name, mode="blind", context=target.context, extension=target.extension)
    metrics.TRANSFERS.labels("blind", "done").inc()
    call.end(f"transferred to {name}", caller_action=CallerAction.GONE)  # the dialplan has the caller now
    return {"transferred": True, "target": name}


async def attended(call: Call, deps: CallDeps, name: str, target: TransferTarget) -> dict:
    rest, registry = deps.rest, deps.registry
    leg = TransferLeg(call, name)
    call.transfer_leg = leg
    registry.index_channel(call, leg.channel_id)
    registry.index_channel(call, leg.other_channel_id)
    call.channels_created.append(leg.channel_id)  # teardown hangs it up whatever happens
    endpoint = f"Local/{target.extension}@{target.context}"
    try:
        await rest.originate(endpoint, leg.channel_id, leg.other_channel_id, deps.settings.ari.app, f"leg,transfer,{call.id}", None)
        log.info("transfer.dialling", target=name, endpoint=endpoint)
        with anyio.move_on_after(target.answer_timeout_s):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_cancel_when, leg.gone, tg.cancel_scope)
                await leg.answered.wait()
                tg.cancel_scope.cancel()
        if not leg.answered.is_set() or leg.gone.is_set():
            reason = "did not answer" if not leg.gone.is_set() else "could not be reached"
            log.info("transfer.not_answered", target=name, reason=reason)
            metrics.TRANSFERS.labels("attended", "not_answered").inc()
            await _drop(call, deps, leg)
            return {"transferred": False, "reason": f"{name} {reason}; tell the caller and offer to help or try later"}
        await rest.add_channel(call.bridge_id, leg.channel_id)
    except (AriError, AriUnavailable) as exc:
        log.warning("transfer.failed", target=name, mode="attended", error=str(exc))
        metrics.TRANSFERS.labels("attended", "failed").inc()
        with anyio.CancelScope(shield=True):
            await _drop(call, deps, leg)
        return {"transferred": False, "reason": "the transfer could not be made; apologise and offer to help otherwise"}
    call.transferred_to = name
    call.recorder.transfer(name)
    call.recorder.ended_as("transferred")
    log.info("transfer.done", target=name, mode="attended")
    metrics.TRANSFERS.labels("attended", "done").inc()
    return {"transferred": True, "target": name}


async def _cancel_when(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _drop(call: Call, deps: CallDeps, leg: TransferLeg) -> None:
    call.transfer_leg = None
    try:
        await deps.rest.hangup(leg.channel_id)
    except (AriError, AriUnavailable) as exc:
        log.warning("transfer.hangup_failed", error=str(exc))
        return  # left in channels_created: teardown tries again
    if leg.channel_id in call.channels_created:
        call.channels_created.remove(leg.channel_id)


async def release_agent_legs(call: Call, deps: CallDeps) -> None:
    """After an answered attended transfer: our media legs and the capture bridge go (M39); the
    caller, the target and the call bridge stay until one of them hangs up."""
    rest = deps.rest
    keep = {call.transfer_leg.channel_id} if call.transfer_leg is not None else set()
    for channel_id in [c for c in call.channels_created if c not in keep]:
        try:
            await rest.hangup(channel_id)
            call.channels_created.remove(channel_id)
        except (AriError, AriUnavailable) as exc:
            log.warning("transfer.release_failed", channel_id=channel_id, error=str(exc))
    if call.capture_bridge_id in call.bridges_created:
        try:
            await rest.destroy_bridge(call.capture_bridge_id)
            call.bridges_created.remove(call.capture_bridge_id)
        except (AriError, AriUnavailable) as exc:
            log.warning("transfer.release_failed", bridge_id=call.capture_bridge_id, error=str(exc))
    for role in list(call.legs):
        connection = call.legs[role].connection
        if connection is not None:
            connection.release()
