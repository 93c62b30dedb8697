"""State objects of the emulated Asterisk: channels, bridges, playbacks.

Snapshots (``snapshot()``) have exactly the keys, in the order, that Asterisk 22.10.1 put in its
JSON (asterisk_facts FACTS 1, 5, 22; snoop F1): a channel is ``id, name, state, protocol_id, caller,
connected, accountcode, dialplan, creationtime, language``; a bridge is ``id, technology,
bridge_type, bridge_class, creator, name, channels, creationtime, video_mode``; a playback is
``id, media_uri, target_uri, language, state``.
"""
from __future__ import annotations

import collections
import datetime
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SAMPLES_PER_TICK = 160  # 20 ms at 8 kHz, the bridge's internal rate


def ari_timestamp() -> str:
    """Timestamp as Asterisk writes it: ``2026-11-21T10:08:21.975+0000`` (FACT 1)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def party(name: str = "", number: str = "") -> dict:
    return {"name": name, "number": number}


class PlaybackTarget:
    """A channel or bridge: its playbacks queue in order, the first one plays (FACTS 25-26, 56)."""

    playbacks: collections.deque

    @property
    def playing(self) -> "Playback | None":
        if self.playbacks and self.playbacks[0].state == "playing":
            return self.playbacks[0]
        return None


@dataclass(eq=False)
class Channel(PlaybackTarget):
    """One Asterisk channel.

    ``kind`` is one of: ``phone`` (the ;1 half of an inbound call, driven by a :class:`Call`),
    ``caller`` (the ;2 half that runs ``Stasis()``), ``local1`` / ``local2`` (halves of a Local
    channel originated through ARI, e.g. the media fork), ``snoop``, ``extmedia`` (externalMedia
    AudioSocket channel), ``audiosocket`` (originated ``AudioSocket/...`` endpoint).
    """

    id: str
    name: str
    kind: str
    state: str = "Down"
    caller: dict = field(default_factory=party)
    connected: dict = field(default_factory=party)
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    app_name: str = ""
    app_data: str = ""
    creationtime: str = field(default_factory=ari_timestamp)
    language: str = "en"
    vars: dict = field(default_factory=dict)
    # ARI / Stasis
    app: str | None = None           # the app this channel's events go to
    subscribed: bool = False         # the app receives this channel's events
    originated_by_app: bool = False  # subscribed for life (FACT 7, 30, 45)
    in_stasis: bool = False
    stasis_args: list = field(default_factory=list)
    # topology
    bridge: Any = None               # Bridge or None
    peer: "Channel | None" = None    # other half of a Local pair
    spied: "Channel | None" = None   # snoop: the channel it spies on
    spy: str = "none"
    whisper: str = "none"
    snoops: list = field(default_factory=list)
    call: Any = None                 # Call for phone/caller channels
    leg: Any = None                  # AudioSocketLeg for local2/extmedia/audiosocket
    formats: str | None = None
    half_amplitude: bool = False     # Local originated without formats: slin192 (docs/architecture.md §3)
    pending_callerid: bool = False   # ;2 half of a Local: caller id changed, not yet announced
    in_audiosocket: bool = False
    playbacks: collections.deque = field(default_factory=collections.deque)
    alive: bool = True
    silence_generator: bool = False
    # asyncio plumbing (set by the emulator)
    task: Any = None                 # dialplan runner of a Local ;2 half / leg reader
    stasis_exit: Any = None          # Future resolved when the channel leaves Stasis
    continue_to: Any = None          # (context, exten, priority) from continueInDialplan
    media_event: Any = None          # asyncio.Event: first frame reached this channel
    # audio of the current tick
    voice: np.ndarray | None = None  # what this channel sends (before muting)
    tx: np.ndarray | None = None     # what it contributes to its bridge
    heard: np.ndarray | None = None  # what it was given to hear

    def dialplan(self) -> dict:
        return {"context": self.context, "exten": self.exten, "priority": self.priority,
                "app_name": self.app_name, "app_data": self.app_data}

    def snapshot(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": dict(self.caller),
            "connected": dict(self.connected),
            "accountcode": "",
            "dialplan": self.dialplan(),
            "creationtime": self.creationtime,
            "language": self.language,
        }

    def set_app(self, name: str, data: str, priority: int | None = None) -> None:
        self.app_name, self.app_data = name, data
        if priority is not None:
            self.priority = priority



@dataclass(eq=False)
class Bridge(PlaybackTarget):
    id: str
    name: str = ""
    bridge_type: str = "mixing"
    creationtime: str = field(default_factory=ari_timestamp)
    members: list = field(default_factory=list)          # real channels, in join order
    playbacks: collections.deque = field(default_factory=collections.deque)
    announcer: str | None = None                         # "Announcer/ARI-xxxxxxxx;2" while present
    recording: Any = None                                # recording.LiveRecording while recording
    residual: int = 0        # app interest left behind by channels hung up inside the bridge
    alive: bool = True

    @property
    def recorder(self) -> str | None:
        """``Recorder/ARI-xxxxxxxx;2`` while a bridge recording runs (more/ M43)."""
        return self.recording.recorder if self.recording is not None else None

    @property
    def participants(self) -> int:
        return len(self.members) + (1 if self.announcer else 0) + (1 if self.recorder else 0)

    @property
    def technology(self) -> str:
        """simple_bridge for up to two parties, softmix with an announcer or 3+ (FACT 5, 23;
        more/ M44-M45: two channels and a recorder)."""
        if self.announcer or len(self.members) + (1 if self.recorder else 0) > 2:
            return "softmix"
        return "simple_bridge"

    def snapshot(self) -> dict:
        return {
            "id": self.id,
            "technology": self.technology,
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": [c.id for c in self.members],
            "creationtime": self.creationtime,
            "video_mode": "talker",
        }


@dataclass(eq=False)
class Playback:
    id: str
    media_uri: str
    target_uri: str
    target: Any                      # Channel or Bridge
    language: str = "en"
    state: str = "queued"
    pcm: np.ndarray | None = None    # int16 samples at 8 kHz
    pos: int = 0
    started_at: float | None = None

    def snapshot(self) -> dict:
        return {"id": self.id, "media_uri": self.media_uri, "target_uri": self.target_uri,
                "language": self.language, "state": self.state}

    def next_frame(self) -> np.ndarray | None:
        """The next 20 ms of the file (zero padded at the end), None when nothing is left."""
        if self.pcm is None or self.pos >= len(self.pcm):
            return None
        chunk = self.pcm[self.pos:self.pos + SAMPLES_PER_TICK]
        self.pos += SAMPLES_PER_TICK
        if len(chunk) < SAMPLES_PER_TICK:
            chunk = np.concatenate([chunk, np.zeros(SAMPLES_PER_TICK - len(chunk), np.int16)])
        return chunk

    @property
    def exhausted(self) -> bool:
        return self.pcm is not None and self.pos >= len(self.pcm)
