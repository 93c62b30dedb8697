"""chan_websocket media control messages (externalMedia `transport=websocket`), sans-IO: text
messages in, frozen events out; commands in, text out. The WebSocket framing itself is wsproto's
(`leg.py`); audio travels as binary messages, never through this module.

Asterisk → us (tests/asterisk_facts/more/README.md; plain text `NAME key:value ...` by default,
JSON `{"event": NAME, ...}` with transport_data=f(json), M18):
  MEDIA_START connection_id:<id> channel:<name> channel_id:<id> format:<fmt> optimal_frame_size:<n> ptime:<ms>   (M17)
  STATUS channel_id:<id> queue_length:<n> xon_level:<n> xoff_level:<n> queue_full:<b> bulk_media:<b> media_paused:<b>  (M22)
  QUEUE_DRAINED (M23)   MEDIA_XOFF / MEDIA_XON (M27)   MEDIA_MARK_PROCESSED <mark> (M24)
  MEDIA_BUFFERING_COMPLETED <id> (M25)   DTMF_END digit:<d> channel_id:<id> (M20)
  ERROR channel_id:<id> error_text:<text, may hold spaces and a trailing newline> (M29)

Us → Asterisk: GET_STATUS, REPORT_QUEUE_DRAINED, MARK_MEDIA <mark>, FLUSH_MEDIA, PAUSE_MEDIA,
CONTINUE_MEDIA, START_MEDIA_BUFFERING, STOP_MEDIA_BUFFERING <id>, HANGUP (M22-M31); FLUSH, PAUSE,
CONTINUE and unknown commands get no reply (M26, M28, M29).

Binary media (M19, M21): slin at the channel's rate, little-endian; Asterisk sends one
`optimal_frame_size` message per 20 ms and re-frames whatever we send into its own 20 ms queue
(flow control: MEDIA_XOFF at 900 queued frames, MEDIA_XON at 800, more than 1000 dropped).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_TEXT = 4096
FORMAT_RATES = {"slin": 8000, "slin16": 16000}
COMMANDS = frozenset(
    {
        "GET_STATUS",
        "REPORT_QUEUE_DRAINED",
        "MARK_MEDIA",
        "FLUSH_MEDIA",
        "PAUSE_MEDIA",
        "CONTINUE_MEDIA",
        "START_MEDIA_BUFFERING",
        "STOP_MEDIA_BUFFERING",
        "HANGUP",
    }
)


class ProtocolError(ValueError):
    """A text message we cannot read."""


@dataclass(frozen=True, slots=True)
class MediaStart:
    connection_id: str
    channel: str
    channel_id: str
    format: str
    optimal_frame_size: int
    ptime: int


@dataclass(frozen=True, slots=True)
class Status:
    queue_length: int
    xon_level: int
    xoff_level: int
    queue_full: bool
    bulk_media: bool
    media_paused: bool


@dataclass(frozen=True, slots=True)
class QueueDrained:
    pass


@dataclass(frozen=True, slots=True)
class Xoff:
    pass


@dataclass(frozen=True, slots=True)
class Xon:
    pass


@dataclass(frozen=True, slots=True)
class MarkProcessed:
    mark: str


@dataclass(frozen=True, slots=True)
class BufferingCompleted:
    id: str


@dataclass(frozen=True, slots=True)
class DtmfEnd:
    digit: str


@dataclass(frozen=True, slots=True)
class Error:
    text: str


@dataclass(frozen=True, slots=True)
class Unknown:
    name: str


Event = MediaStart | Status | QueueDrained | Xoff | Xon | MarkProcessed | BufferingCompleted | DtmfEnd | Error | Unknown


def parse(text: str) -> Event:
    """One text message (plain or JSON) → its event; raises `ProtocolError` if unreadable."""
    if len(text) > MAX_TEXT:
        raise ProtocolError(f"text message of {len(text)} characters exceeds {MAX_TEXT}")
    if text.startswith("{"):
        try:
            fields = json.loads(text)
        except ValueError as exc:
            raise ProtocolError(f"unparsable JSON: {exc}") from None
        if not isinstance(fields, dict) or not isinstance(fields.get("event"), str):
            raise ProtocolError("JSON message without an event name")
        name, args = fields.pop("event"), []
    else:
        name, _, rest = text.partition(" ")
        fields, args = _plain_fields(name, rest)
    try:
        return _event(name, fields, args)
    except (KeyError, ValueError, TypeError) as exc:
        raise ProtocolError(f"{name}: {exc!r}") from None


def _plain_fields(name: str, rest: str) -> tuple[dict, list[str]]:
    if name == "ERROR":  # error_text runs to the end and may hold spaces (M29)
        head, sep, error_text = rest.partition("error_text:")
        fields, args = _plain_fields("", head.strip())
        if sep:
            fields["error_text"] = error_text
        return fields, args
    fields: dict = {}
    args: list[str] = []
    for token in rest.split():
        key, sep, value = token.partition(":")
        if sep:
            fields[key] = value
        else:
            args.append(token)
    return fields, args


def _bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _event(name: str, f: dict, args: list[str]) -> Event:
    if name == "MEDIA_START":
        return MediaStart(
            str(f["connection_id"]),
            str(f["channel"]),
            str(f["channel_id"]),
            str(f["format"]),
            int(f["optimal_frame_size"]),
            int(f["ptime"]),
        )
    if name == "STATUS":
        return Status(
            int(f["queue_length"]),
            int(f["xon_level"]),
            int(f["xoff_level"]),
            _bool(f["queue_full"]),
            _bool(f["bulk_media"]),
            _bool(f["media_paused"]),
        )
    if name == "QUEUE_DRAINED":
        return QueueDrained()
    if name == "MEDIA_XOFF":
        return Xoff()
    if name == "MEDIA_XON":
        return Xon()
    if name == "MEDIA_MARK_PROCESSED":
        return MarkProcessed(args[0] if args else str(f.get("correlation_id", "")))
    if name == "MEDIA_BUFFERING_COMPLETED":
        return BufferingCompleted(args[0] if args else str(f.get("correlation_id", "")))
    if name == "DTMF_END":
        return DtmfEnd(str(f["digit"]))
    if name == "ERROR":
        return Error(str(f.get("error_text", "")).rstrip("\n"))
    return Unknown(name)


def command(name: str, argument: str | None = None) -> str:
    """A plain-text command (the default control format, M15-M17)."""
    if name not in COMMANDS:
        raise ValueError(f"unknown chan_websocket command {name!r}")
    if argument is not None and (not argument or any(c.isspace() for c in argument)):
        raise ValueError(f"command argument must be one word, got {argument!r}")
    return name if argument is None else f"{name} {argument}"
