"""Removes everything a call created (DESIGN §2 step 9), whatever state it got to.

Order: stop the running playback (it would run on in the empty bridge, snoop F30), hang up
the legs, hang up the caller if it is still there, destroy both bridges (they never go away by
themselves, snoop F29), close the AudioSocket connections, delete the call's files. The snoop
leaves by itself (snoop F25). A step that fails is logged and the rest still run; when Asterisk
is unreachable the REST steps are skipped and the orphan sweep after reconnecting finishes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from ..observability.logs import get_logger
from ..transports.ari.errors import AriError, AriUnavailable
from .call import Call
from .deps import CallDeps

log = get_logger(__name__)


async def teardown(call: Call, deps: CallDeps, stop_playback: Callable[[], Awaitable[object]] | None, hangup_caller: bool) -> None:
    rest = deps.rest
    steps: list[tuple[str, Callable[[], Awaitable[object]]]] = []
    if stop_playback is not None:
        steps.append(("stop playback", stop_playback))
    for channel_id in call.channels_created:
        steps.append((f"hang up {channel_id}", lambda c=channel_id: rest.hangup(c)))
    if hangup_caller:
        steps.append(("hang up caller", lambda: rest.hangup(call.caller_id)))
    for bridge_id in call.bridges_created:
        steps.append((f"destroy {bridge_id}", lambda b=bridge_id: rest.destroy_bridge(b)))

    with anyio.CancelScope(shield=True), anyio.move_on_after(deps.settings.calls.teardown_timeout_s):
        for what, step in steps:
            if not rest.available:
                log.warning("call.teardown_deferred", step=what, reason="ARI not connected; orphan sweep will finish")
                break
            try:
                await step()
            except (AriError, AriUnavailable) as exc:
                log.warning("call.teardown_step_failed", step=what, error=str(exc))
    for leg in call.legs.values():
        if leg.connection is not None:
            await leg.connection.release()  # shielded: Asterisk sees EOF and AudioSocket() returns
    deps.store.delete_call_files(call.id)
