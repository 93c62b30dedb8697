"""One call's record (what the database, the API, the export and the webhook carry) and the
`CallRecorder` a call reports to while it runs.

The recorder is the only thing the call code touches: a plain object with one method per
fact (`answered`, `caller_said`, `agent_text`/`agent_done`, `turn_latency`, `transfer`,
`tool_call`, `ended_as`, `recording`), all sync and cheap, so a callback can report without awaiting. `finish()` turns it
into a frozen `CallRecord` once the call is over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from collections.abc import Callable
from typing import Any


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds") if t is not None else None


def _join(pieces: list[str]) -> str:
    """Deltas join as they are; whole sentences (Deepgram, Gemini) get a space between them."""
    out = ""
    for piece in pieces:
        if out and not out[-1].isspace() and piece and not piece[0].isspace() and out[-1] in ".!?,;:":
            out += " "
        out += piece
    return out


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: str
    caller_number: str
    caller_name: str
    extension: str
    persona: str
    provider: str
    started_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_s: float | None
    outcome: str
    end_reason: str
    transfer_target: str | None
    transcript: list[dict[str, Any]]  # {"role": "caller"|"agent", "text", "at", "offset_s"}
    tool_calls: list[dict[str, Any]]  # {"name", "arguments", "result", "at"}
    turn_latency: list[dict[str, float]]  # one per agent turn: stages in ms (calls/turn_timer.py)
    recording: str | None  # file name in records.recordings_dir

    def to_json(self) -> dict[str, Any]:
        """The record as the API, the export and the webhook give it."""
        out = asdict(self)
        for key in ("started_at", "answered_at", "ended_at"):
            out[key] = iso(out[key])
        out["recording"] = None if self.recording is None else f"/calls/{self.id}/recording"
        return out


@dataclass
class CallRecorder:
    """Collects one call's record. Times are wall-clock UTC; `offset_s` counts from the start."""

    id: str
    caller_number: str = ""
    caller_name: str = ""
    extension: str = ""
    persona: str = ""
    provider: str = ""
    started_at: dt.datetime = field(default_factory=utcnow)
    answered_at: dt.datetime | None = None
    transfer_target: str | None = None
    recording_name: str | None = None
    outcome: str | None = None  # set by `ended_as`
    transcript: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[dict[str, float]] = field(default_factory=list)
    _replies: dict[str, dict[str, Any]] = field(default_factory=dict)  # agent replies still arriving
    on_change: Callable[[], None] | None = field(default=None, repr=False, compare=False)  # live views (web/)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _stamp(self) -> tuple[str | None, float]:
        now = utcnow()
        return iso(now), round((now - self.started_at).total_seconds(), 3)

    def answered(self) -> None:
        if self.answered_at is None:
            self.answered_at = utcnow()
            self._changed()

    def caller_said(self, text: str) -> None:
        self._turn("caller", text)

    def agent_said(self, text: str) -> None:
        self._turn("agent", text)

    def key_pressed(self, digit: str) -> None:
        """A DTMF key the caller pressed (a `dtmf` entry of the transcript, in time order)."""
        self._turn("dtmf", digit)

    def agent_text(self, response_id: str, piece: str) -> None:
        """A piece of an agent reply (providers send deltas or sentences); the turn is written
        at `agent_done`, timed at its first piece."""
        reply = self._replies.get(response_id)
        if reply is None:
            at, offset = self._stamp()
            reply = self._replies[response_id] = {"at": at, "offset_s": offset, "pieces": []}
            self._changed()
        reply["pieces"].append(piece)

    def agent_done(self, response_id: str, interrupted: bool = False) -> None:
        reply = self._replies.pop(response_id, None)
        if reply is None:
            return
        text = _join(reply["pieces"]).strip()
        if text:
            turn = {"role": "agent", "text": text, "at": reply["at"], "offset_s": reply["offset_s"]}
            if interrupted:
                turn["interrupted"] = True
            self.transcript.append(turn)
        self._changed()

    def _turn(self, role: str, text: str) -> None:
        text = text.strip()
        if not text:
            return
        at, offset = self._stamp()
        self.transcript.append({"role": role, "text": text, "at": at, "offset_s": offset})
        self._changed()

    def turn_latency(self, stages_ms: dict[str, float]) -> None:
        """One agent turn's latency: stage (speech_stopped, transcript, response, first_audio_in,
        total; calls/turn_timer.py) → ms since the caller went quiet; kept as `<stage>_ms`."""
        self.latencies.append({k if k.endswith("_ms") else f"{k}_ms": v for k, v in stages_ms.items()})
        self._changed()

    def transfer(self, target: str) -> None:
        self.transfer_target = target
        self._changed()

    def tool_call(self, name: str, arguments: Any, result: Any) -> None:
        """A tool the model called, with the arguments it gave and what it got back."""
        at, _ = self._stamp()
        self.tool_calls.append({"name": name, "arguments": arguments, "result": result, "at": at})
        self._changed()

    def ended_as(self, outcome: str) -> None:
        """The call ended in a way the session cannot see (e.g. `transferred` by the transfer
        tool, `agent_hangup`): this outcome replaces the session's `completed`."""
        self.outcome = outcome

    def recording(self, name: str) -> None:
        """The call is being recorded into `<records.recordings_dir>/<name>`."""
        self.recording_name = name

    def finish(self, outcome: str, reason: str) -> CallRecord:
        for response_id in list(self._replies):  # cut off by a barge-in or the hang-up
            self.agent_done(response_id, interrupted=True)
        self.transcript.sort(key=lambda turn: turn["offset_s"])
        ended = utcnow()
        return CallRecord(
            id=self.id,
            caller_number=self.caller_number,
            caller_name=self.caller_name,
            extension=self.extension,
            persona=self.persona,
            provider=self.provider,
            started_at=self.started_at,
            answered_at=self.answered_at,
            ended_at=ended,
            duration_s=round((ended - self.started_at).total_seconds(), 3),
            outcome=self.outcome if self.outcome is not None and outcome == "completed" else outcome,
            end_reason=reason,
            transfer_target=self.transfer_target,
            transcript=list(self.transcript),
            tool_calls=list(self.tool_calls),
            turn_latency=list(self.latencies),
            recording=self.recording_name,
        )
