"""A call's state: the ids of everything the engine created for it, its legs and its event queue."""

from __future__ import annotations

import enum
import uuid as uuidlib
from dataclasses import dataclass, field

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..config import PersonaSettings
from ..records.record import CallRecorder
from ..transports.leg import MediaLeg

EVENT_QUEUE_SIZE = 512


def channel_prefix(app: str) -> str:
    """Every channel and bridge id the engine makes starts with this; a caller's never does."""
    return f"{app}-"


def bridge_name_prefix(app: str) -> str:
    """Every bridge the engine makes is named so (bridges carry no app in ARI)."""
    return f"{app}/"


class CallerAction(enum.Enum):
    """What teardown does with the caller."""

    GONE = "none"  # the caller already left: nothing to do
    HANGUP = "hangup"  # the engine ended the call (goodbye said)
    CONTINUE = "continue"  # the engine could not go on: to calls.failure_context (or hang up)


@dataclass
class Leg:
    """A media leg: `capture` (caller audio in) or `playback` (agent audio out, stream mode)."""

    role: str
    uuid: uuidlib.UUID
    channel_id: str  # the channel the engine bridges (Local ;1 or the externalMedia channel)
    other_channel_id: str | None = None  # the Local ;2 half that runs AudioSocket()
    connection: MediaLeg | None = None  # AudioSocket connection, RTP socket or chan_websocket
    bound: anyio.Event = field(default_factory=anyio.Event)

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel_id,) if self.other_channel_id is None else (self.channel_id, self.other_channel_id)


class Call:
    def __init__(self, app: str, caller: dict, args: list[str], persona_name: str, persona: PersonaSettings):
        self.id = uuidlib.uuid4().hex[:16]
        self.app = app
        self.caller_id: str = caller["id"]
        self.caller_number: str = (caller.get("caller") or {}).get("number", "")
        self.args = args
        self.persona_name = persona_name
        self.persona = persona
        prefix = self.legs_prefix = f"{channel_prefix(app)}{self.id}"
        self.bridge_id = f"{prefix}-call"
        self.capture_bridge_id = f"{prefix}-capture"
        self.snoop_id = f"{prefix}-snoop"
        self.bridges_created: list[str] = []
        self.channels_created: list[str] = []
        self.legs: dict[str, Leg] = {}
        self.stasis_started: dict[str, anyio.Event] = {}
        self.transfer_leg = None  # calls.transfer.TransferLeg while an attended transfer dials or is bridged
        self.transferred_to: str | None = None  # the transfer target's name once transferred
        self.ended = anyio.Event()
        self.end_reason = ""
        self.caller_action = CallerAction.CONTINUE
        self.started_at = anyio.current_time()
        self.recorder = CallRecorder(  # the call's record: the session and the conversation report to it
            self.id,
            caller_number=self.caller_number,
            caller_name=(caller.get("caller") or {}).get("name", ""),
            extension=str((caller.get("dialplan") or {}).get("exten", "")),
            persona=persona_name,
            provider=persona.provider,
        )
        send, receive = anyio.create_memory_object_stream[dict](EVENT_QUEUE_SIZE)
        self.events_in: MemoryObjectSendStream[dict] = send
        self.events: MemoryObjectReceiveStream[dict] = receive

    def bridge_name(self, role: str) -> str:
        # Bridges carry no app in ARI; the name lets a restarted engine find its orphans.
        return f"{bridge_name_prefix(self.app)}{self.id}/{role}"

    def new_leg(self, role: str, local: bool) -> Leg:
        base = f"{channel_prefix(self.app)}{self.id}-{role}"
        leg = Leg(role=role, uuid=uuidlib.uuid4(), channel_id=base, other_channel_id=f"{base};2" if local else None)
        self.legs[role] = leg
        return leg

    def expect_stasis(self, channel_id: str) -> anyio.Event:
        return self.stasis_started.setdefault(channel_id, anyio.Event())

    def end(self, reason: str, caller_action: CallerAction | None = None) -> None:
        """End the call once; the first reason wins. `caller_action` as for `self.caller_action`."""
        if not self.ended.is_set():
            self.end_reason = reason
            if caller_action is not None:
                self.caller_action = caller_action
            self.ended.set()

    def owned_channel_ids(self) -> set[str]:
        ids = {self.caller_id, self.snoop_id}
        if self.transfer_leg is not None:
            ids.update((self.transfer_leg.channel_id, self.transfer_leg.other_channel_id))
        for leg in self.legs.values():
            ids.update(leg.channel_ids)
        return ids
