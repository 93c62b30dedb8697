"""Settings of the media edges: ARI, AudioSocket, ExternalMedia RTP and WebSocket."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from voice_common.settings import Section

_Section = Section  # a misspelt key is an error, not a silent default


class AriSettings(_Section):
    url: str = Field("http://127.0.0.1:8088/", description="Asterisk HTTP base URL (ARI lives under /ari).")
    username: str = Field("ai-agent", description="ARI user (ari.conf section).")
    password: SecretStr = Field(
        SecretStr(""), description="ARI password. Environment only: AI_ENGINE_ARI__PASSWORD. Required."
    )
    app: str = Field("ai-agent", description="Stasis application name; one engine per app name.")
    request_timeout_s: float = Field(5.0, gt=0, description="Bound on every ARI REST request.")
    reconnect_min_s: float = Field(0.5, gt=0, description="First back-off delay after a lost connection.")
    reconnect_max_s: float = Field(10.0, gt=0, description="Largest back-off delay.")
    cleanup_orphans: bool = Field(
        True, description="After (re)connecting, hang up channels and destroy bridges of this app that no live call owns."
    )

    @field_validator("url")
    @classmethod
    def _trailing_slash(cls, v: str) -> str:
        return v if v.endswith("/") else v + "/"


class AudioSocketSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the AudioSocket TCP server binds to.")
    port: int = Field(8090, ge=0, le=65535, description="AudioSocket TCP port (the dialplan's AudioSocket(<uuid>,host:port)).")
    advertise_host: str = Field(
        "127.0.0.1", description="Host Asterisk connects to for externalMedia legs (external_host=<advertise_host>:<port>)."
    )
    uuid_timeout_s: float = Field(
        2.0, gt=0, description="A new connection must send its UUID frame within this time (legs the engine is waiting for get calls.setup_timeout_s)."
    )
    max_unidentified: int = Field(
        8, ge=1, description="Connections that have not sent their UUID yet, at most (plus one per leg the engine is waiting for); more are refused."
    )
    read_timeout_s: float = Field(
        5.0, gt=0, description="A bound leg that sends nothing for this long is considered dead (RTP and WebSocket legs too)."
    )
    keepalive_s: float = Field(
        0.5, gt=0, description="Send a 20 ms silence frame when nothing crossed the socket for this long (Asterisk hangs up after 2 s)."
    )
    max_payload_bytes: int = Field(8192, ge=320, le=65535, description="Largest accepted frame payload.")


class RtpSettings(_Section):
    """ExternalMedia over RTP/UDP (`calls.audio_transport: externalmedia_rtp`): one UDP port per leg."""

    host: str = Field("127.0.0.1", description="Address the engine's RTP sockets bind to (0.0.0.0 when Asterisk is on another host).")
    advertise_host: str = Field(
        "127.0.0.1", description="Address Asterisk sends RTP to (externalMedia external_host=<advertise_host>:<port>)."
    )
    port_start: int = Field(20000, ge=1024, le=65534, description="First UDP port of the engine's RTP range (even ports are used).")
    port_end: int = Field(20999, ge=1025, le=65535, description="Last UDP port of the engine's RTP range (two legs per call at most).")
    format: Literal["slin16", "slin", "ulaw"] = Field(
        "slin16", description="externalMedia format= of the RTP legs: what Asterisk sends (slin16: 16 kHz, PT 118)."
    )
    wideband_return: bool = Field(
        True,
        description="slin16 legs: agent audio goes back as G.722 (PT 9, 16 kHz, heard wideband on Asterisk 22.10.1); "
        "false: L16 8 kHz (PT 11). Asterisk drops 16 kHz L16 sent back (PT 118), so G.722 is the only wideband return.",
    )
    reorder_packets: int = Field(
        2, ge=0, le=10, description="Packets held to put out-of-order arrivals back in order (each adds 20 ms only when one is missing)."
    )
    max_packet_bytes: int = Field(1500, ge=200, le=65535, description="Larger datagrams are dropped and counted.")


class WebSocketMediaSettings(_Section):
    """ExternalMedia over chan_websocket (`calls.audio_transport: websocket`): the engine connects to
    Asterisk's own HTTP server (connection_type=server), no extra port on either side."""

    media_url: str | None = Field(
        None, description="Base URL of Asterisk's media WebSocket (ws[s]://host:8088/media/); null: derived from ari.url."
    )
    format: Literal["slin16", "slin"] = Field(
        "slin16", description="externalMedia format= of the WebSocket legs (slin16: 640-byte binary frames, little-endian)."
    )
    connect_timeout_s: float = Field(3.0, gt=0, description="Bound on the WebSocket connect and Asterisk's MEDIA_START.")
    max_message_bytes: int = Field(65536, ge=1024, description="Largest accepted message from Asterisk.")
