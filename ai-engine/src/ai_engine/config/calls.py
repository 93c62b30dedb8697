"""Settings of a call: admission and timeouts, personas, playback, barge-in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from voice_common.settings import Section

from ..tools.settings import KnowledgeBaseSettings, LookupSettings, TransferTarget

_Section = Section  # a misspelt key is an error, not a silent default


class CallSettings(_Section):
    max_concurrent_calls: int = Field(
        16,
        ge=1,
        description="Calls over this number are refused (sent to overflow_context). Keep it at most the provider's "
        "session limit (local-ai-server: server.max_sessions, 16): a call the provider refuses hears the hold prompt "
        "and goes to failure_context instead.",
    )
    audio_transport: Literal["snoop_fork", "snoop_externalmedia", "bridge_fork", "externalmedia_rtp", "websocket"] = Field(
        "snoop_externalmedia",
        description="Capture path: snoop(spy=in)+externalMedia AudioSocket (default: the fewest channels and the least "
        "Asterisk CPU of the echo-free paths, measured on Asterisk 22.10.1, tests/asterisk_facts/cost/), snoop+Local fork "
        "(Asterisks without externalMedia AudioSocket), the echo-prone fork in the caller's bridge, snoop+externalMedia "
        "RTP (rtp section; stream playback over RTP too), or snoop+chan_websocket (websocket section; stream playback "
        "over WebSocket too).",
    )
    media_fork_context: str = Field("ai-agent-media-fork", description="Dialplan context running AudioSocket(<uuid>,host:port).")
    media_fork_formats: Literal["slin", "ulaw"] = Field("slin", description="formats= for the Local fork originate (never empty: slin192).")
    capture_format: Literal["slin", "slin16"] = Field(
        "slin",
        description="snoop_externalmedia: format= of the AudioSocket capture leg; slin16 streams 16 kHz frames (kind 0x12, "
        "recorded on Asterisk 22.10.1) so the provider gets wideband audio without an 8 kHz step.",
    )
    overflow_context: str = Field("ai-agent-overflow", description="Context (exten s, priority 1) that refused calls continue to.")
    setup_timeout_s: float = Field(5.0, gt=0, description="Bound on each wait while building a call (StasisStart, AudioSocket connect).")
    teardown_timeout_s: float = Field(5.0, gt=0, description="Bound on a call's cleanup.")
    failure_context: str = Field(
        "ai-agent-unavailable",
        description="When the engine cannot go on with a call (setup or provider failure, shutdown) the caller continues here (exten s); empty: hang up.",
    )
    provider_reconnect_s: float = Field(
        10.0, ge=0, description="How long to keep reconnecting a lost provider (the caller hears a hold prompt) before giving up."
    )
    provider_response_timeout_s: float = Field(
        15.0, gt=0, description="A transcribed caller turn with no response.created this long after counts as a lost provider."
    )
    max_duration_s: float = Field(3600.0, gt=0, description="Calls are ended politely (goodbye prompt) after this long.")
    silence_timeout_s: float = Field(
        120.0, gt=0, description="Calls where the caller says nothing for this long (and the agent is quiet) end politely."
    )
    shutdown_timeout_s: float = Field(10.0, gt=0, description="On SIGTERM, active calls get this long to end cleanly.")
    provider_down_prompt: Path | None = Field(
        None, description="8 kHz mono 16-bit WAV played when the provider is lost; null: the bundled one."
    )
    goodbye_prompt: Path | None = Field(None, description="WAV played before the engine ends a call; null: the bundled one.")
    default_persona: str = Field("default", description="Persona used when Stasis() gets no argument or an unknown one.")

    @property
    def capture_by_local_fork(self) -> bool:
        """The capture leg is a Local channel running AudioSocket() in `media_fork_context`
        (snoop_fork). Every other transport creates its legs with externalMedia."""
        return self.audio_transport == "snoop_fork"

    @property
    def media_over_audiosocket(self) -> bool:
        """The call's media legs speak AudioSocket to the engine (RTP and WebSocket carry media themselves)."""
        return self.audio_transport in ("snoop_fork", "snoop_externalmedia", "bridge_fork")


class PersonaSettings(_Section):
    provider: str = Field("local", description="Name of the provider (a key of `providers`).")
    instructions: str = Field(
        "You are a friendly phone agent. Answer in one or two short sentences.",
        description="System instructions for the AI.",
    )
    greeting: str | None = Field("Hello, how can I help you?", description="Spoken first, verbatim; empty for none.")
    voice: str | None = Field(None, description="Provider voice name; null for the provider's default.")
    tools: list[Literal["transfer", "hangup", "lookup", "knowledge_base"]] = Field(
        default_factory=list, description="Built-in tools the model may call in this persona's calls (docs/tools.md)."
    )
    tool_choice: Literal["auto", "required", "none"] = Field(
        "auto",
        description="Whether the model must call a tool: `auto` (it decides), `required` (a tool on every caller "
        "turn, then it speaks: with only knowledge_base, a documents-first persona), `none`; Realtime providers "
        "(local, OpenAI) only, ignored by Deepgram and Gemini (docs/tools.md).",
    )
    transfer_targets: dict[str, TransferTarget] = Field(
        default_factory=dict, description="Named transfer targets (the `transfer` tool and the DTMF key map name them)."
    )
    farewell: str = Field("Thank you for calling. Goodbye.", description="Said by the hangup tool (and a DTMF hangup) unless the model gives one.")
    lookup: LookupSettings = Field(default_factory=LookupSettings, description="The `lookup` tool's HTTP service.")
    knowledge_base: KnowledgeBaseSettings = Field(
        default_factory=KnowledgeBaseSettings, description="The `knowledge_base` tool's documents."
    )
    tool_timeout_s: float = Field(10.0, gt=0, le=120, description="A tool call that takes longer is abandoned and the model told so.")
    dtmf_keys: dict[str, str] = Field(
        default_factory=dict,
        description="DTMF key map: digits -> action (`transfer <target>`, `hangup`, or `say <text>` sent to the model); "
        "other digits reach the model as text ('the caller pressed 1').",
    )
    dtmf_interdigit_s: float = Field(
        2.0, gt=0, le=10, description="Digits pressed within this long of each other form one entry (multi-digit keys)."
    )

    @field_validator("dtmf_keys")
    @classmethod
    def _dtmf_keys(cls, v: dict[str, str]) -> dict[str, str]:
        for digits, action in v.items():
            if not digits or any(c not in "0123456789*#ABCD" for c in digits):
                raise ValueError(f"dtmf key {digits!r}: digits are 0-9, *, #, A-D")
            verb = action.split(maxsplit=1)[0] if action.strip() else ""
            if verb not in ("transfer", "hangup", "say"):
                raise ValueError(f"dtmf key {digits!r}: action {action!r} is not transfer <target>, hangup or say <text>")
        return v
    record: bool = Field(False, description="Record the call bridge through ARI into records.recordings_dir, linked from the call record.")
    record_announcement: str | None = Field(
        None,
        description="Told to the caller when the call is recorded: `sound:<name>` plays that Asterisk sound on the "
        "bridge, any other text is spoken by the agent before the greeting; null: nothing.",
    )
    webhook_url: str | None = Field(
        None, description="After each call of this persona, its record is POSTed here as JSON (retried, bounded); null: none."
    )

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        return v or None


class PlaybackSettings(_Section):
    downstream_mode: Literal["file", "stream"] = Field("file", description="How agent audio reaches the caller.")
    media_dir: Path = Field(Path("shared-media"), description="Folder the engine writes agent audio files into.")
    sound_prefix: str = Field(
        "ai-generated", description="Name Asterisk plays that folder by: media=sound:<sound_prefix>/<file name without .wav>."
    )
    max_file_age_s: float = Field(300.0, gt=0, description="The sweeper deletes engine files older than this.")
    sweep_interval_s: float = Field(60.0, gt=0, description="How often the sweeper runs.")
    finish_timeout_margin_s: float = Field(
        3.0, gt=0, description="A playback with no PlaybackFinished by its duration plus this margin is given up."
    )
    segment_min_ms: int = Field(
        400, ge=0, description="File mode: a reply is cut into files at text boundaries once a file holds this much audio."
    )
    stream_format: Literal["slin", "slin12", "slin16", "slin24", "slin32", "slin44", "slin48", "slin96", "slin192"] = Field(
        "slin", description="Stream mode: format of the externalMedia playback leg (frames of the matching kind)."
    )
    stream_start_ms: int = Field(60, ge=0, le=1000, description="Stream mode: audio buffered before a reply starts playing.")
    stream_max_lag_ms: int = Field(
        100, ge=20, description="Stream mode: pacing restarts from now (no burst) when this far behind schedule."
    )


class BargeInSettings(_Section):
    enabled: bool = Field(True, description="Caller speech while the agent talks stops the agent and cancels its reply.")
    protection_ms: int = Field(
        300,
        ge=0,
        description="Speech onset is ignored this long after agent audio starts (line noise, a cough); a caller still "
        "talking min_speech_ms after it interrupts.",
    )
    min_speech_ms: int = Field(60, ge=20, description="Voiced caller audio needed (engine VAD) before it counts as speech.")
    vad_aggressiveness: int = Field(2, ge=0, le=3, description="webrtcvad mode for the engine's speech detection (3 = strictest).")
    min_level_dbfs: float = Field(-45.0, le=0, description="Caller frames quieter than this are never speech (line noise).")
    use_provider_events: bool = Field(True, description="Also take speech onset from the provider's speech_started.")
