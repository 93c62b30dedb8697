"""What every call needs from the engine, passed as one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Settings
from ..playback.media_clock import MediaClock
from ..playback.media_store import MediaStore
from ..providers.base import Provider
from ..records.service import RecordsService
from ..tools.base import ToolRegistry
from ..transports.ari.rest import AriRest
from ..transports.rtp.ports import RtpPorts
from .registry import CallRegistry


@dataclass
class CallDeps:
    settings: Settings
    rest: AriRest
    registry: CallRegistry
    store: MediaStore
    providers: dict[str, Provider]
    audiosocket_port: int  # the port actually bound (externalMedia external_host)
    media_clock: MediaClock  # paces every stream output, keeps capture legs alive
    request_sweep: Callable[[], None] = lambda: None  # an orphan sweep soon (set by CallManager)
    rtp_ports: RtpPorts | None = None  # calls.audio_transport externalmedia_rtp: the UDP port range
    records: RecordsService | None = None  # records.enabled: every finished call's record goes here
    tools: dict[str, ToolRegistry] = field(default_factory=dict)  # by persona name (set by CallManager)
