"""Recording a call (`personas.<name>.record: true`): the caller's bridge recorded through ARI.

What Asterisk does, as recorded (tests/asterisk_facts/more/, `record` scenario):
  * `POST /bridges/{id}/record?name=..&format=wav&ifExists=overwrite` answers 201
    `{"name","format","state":"queued","target_uri":"bridge:<id>"}` and RecordingStarted follows
    (M43); it records the bridge mix: the caller and every playback on the bridge (M46);
  * the caller's hang-up does not end it: the recording finishes when the last channel leaves
    the bridge, i.e. when teardown destroys the bridge (M45); nothing to stop here;
  * the file is `<astspooldir>/recording/<name>.wav`, 8 kHz mono 16-bit (M46): the engine sees
    that folder as `records.recordings_dir` (a shared volume) and links `<name>.wav` from the
    call's record.

An optional `record_announcement` of the form `sound:<name>` is played on the bridge once the
recording runs (so the recording holds it too) and the conversation starts when it has finished
(PlaybackFinished, at most ANNOUNCEMENT_MAX_S): the agent's first words never queue behind it. A
text announcement is spoken by the agent before its greeting (calls/conversation.py). A
recording that cannot be started is logged and the call goes on without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from ..observability.logs import get_logger
from ..transports.ari.errors import AriError, AriUnavailable

if TYPE_CHECKING:
    from ..calls.call import Call
    from ..calls.deps import CallDeps

log = get_logger(__name__)

FORMAT = "wav"
ANNOUNCEMENT_MAX_S = 30.0  # a sound announcement with no PlaybackFinished by then is not waited for


def recording_name(call: Call) -> str:
    """One file per call, named like every id the engine makes (`<app>-<call id>`)."""
    return f"{call.app}-{call.id}"


class Announcement:
    """The sound announcement's playback: the session passes playback events to `on_event`."""

    def __init__(self, call: Call):
        self.playback_id = f"{recording_name(call)}-announcement"
        self.finished = anyio.Event()

    def on_event(self, event: dict) -> None:
        if event.get("type") == "PlaybackFinished" and (event.get("playback") or {}).get("id") == self.playback_id:
            self.finished.set()


async def start(call: Call, deps: CallDeps, announcement: Announcement) -> bool:
    """Record the call bridge if the persona says so, then play a sound announcement and wait
    for its end. False when nothing is recorded."""
    persona = call.persona
    if not persona.record:
        return False
    rest, name = deps.rest, recording_name(call)
    try:
        await rest.record_bridge(call.bridge_id, name, FORMAT)
    except (AriError, AriUnavailable) as exc:
        log.error("call.recording_failed", error=str(exc))
        return False
    call.recorder.recording(f"{name}.{FORMAT}")
    log.info("call.recording", file=f"{name}.{FORMAT}")
    sound = persona.record_announcement or ""
    if sound.startswith("sound:"):
        try:
            await rest.play_on_bridge(call.bridge_id, sound, announcement.playback_id)
        except (AriError, AriUnavailable) as exc:
            log.error("call.announcement_failed", error=str(exc))
            return True
        with anyio.move_on_after(ANNOUNCEMENT_MAX_S) as scope:
            await announcement.finished.wait()
        if scope.cancelled_caught:
            log.warning("call.announcement_unfinished", waited_s=ANNOUNCEMENT_MAX_S)
    return True
