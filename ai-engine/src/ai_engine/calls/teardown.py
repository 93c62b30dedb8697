"""Removes everything a call created (docs/architecture.md §2.6), whatever state it got to.

Order: stop the running playback (it would run on in the empty bridge, snoop F30), send the
caller on (to the failure context, or hang it up) if it is still there, hang up the legs, destroy both bridges (they never go away by
themselves, snoop F29), close the AudioSocket connections, delete the call's files. The snoop
leaves by itself when the caller hangs up (snoop F25) but not when the caller is sent on, so it
is hung up like the legs (a 404 when it is already gone, snoop F26). A step that fails is logged and the rest still run; when Asterisk
is unreachable the REST steps are skipped and the orphan sweep after reconnecting finishes them;
when a step fails or they run out of time (teardown_timeout_s) an orphan sweep is requested.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from ..observability.logs import get_logger
from ..transports.ari.errors import AriError, AriUnavailable
from .call import Call, CallerAction
from .deps import CallDeps

log = get_logger(__name__)


async def teardown(call: Call, deps: CallDeps, stop_playback: Callable[[], Awaitable[object]] | None) -> None:
    rest = deps.rest
    steps: list[tuple[str, Callable[[], Awaitable[object]]]] = []
    if stop_playback is not None:
        steps.append(("stop playback", stop_playback))
    if call.caller_action is CallerAction.CONTINUE and deps.settings.calls.failure_context:
        steps.append(("send caller on", lambda: _continue_or_hangup(call, deps)))
    elif call.caller_action is not CallerAction.GONE:
        steps.append(("hang up caller", lambda: rest.hangup(call.caller_id)))
    for channel_id in call.channels_created:
        steps.append((f"hang up {channel_id}", lambda c=channel_id: rest.hangup(c)))
    for bridge_id in call.bridges_created:
        steps.append((f"destroy {bridge_id}", lambda b=bridge_id: rest.destroy_bridge(b)))

    done, failed = 0, False
    with anyio.CancelScope(shield=True), anyio.move_on_after(deps.settings.calls.teardown_timeout_s) as scope:
        for what, step in steps:
            if not rest.available:
                log.warning("call.teardown_deferred", step=what, reason="ARI not connected; orphan sweep will finish")
                break
            try:
                await step()
            except (AriError, AriUnavailable) as exc:
                log.warning("call.teardown_step_failed", step=what, error=str(exc))
                failed = True
            done += 1
    if scope.cancelled_caught:  # e.g. a storm of hang-ups queued thousands of requests
        log.warning("call.teardown_timed_out", left=[what for what, _ in steps[done:]])
    if failed or scope.cancelled_caught:
        deps.request_sweep()  # what is left would stay in Asterisk: bridges never go away by themselves
    for leg in call.legs.values():
        if leg.connection is not None:
            leg.connection.release()  # Asterisk sees EOF and AudioSocket() returns
    with anyio.CancelScope(shield=True):
        await deps.store.delete_call_files(call.id)


async def _continue_or_hangup(call: Call, deps: CallDeps) -> None:
    context = deps.settings.calls.failure_context
    try:
        await deps.rest.continue_in_dialplan(call.caller_id, context)
        log.info("call.caller_continued", context=context, reason=call.end_reason)
    except AriError as exc:
        if exc.not_found:
            return
        log.warning("call.continue_failed", context=context, error=str(exc))
        await deps.rest.hangup(call.caller_id)
