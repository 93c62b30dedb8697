"""What a client may set on its session (`session.update`), and the wire view of it
(`session.created` / `session.updated`, the `response` objects)."""

from __future__ import annotations

from dataclasses import dataclass

from realtime_protocol import (
    UNSET,
    AudioFormat,
    ResponseInfo,
    SessionConfig,
    Tool,
    Transcription,
    TurnDetection,
    new_id,
)

from ..config import Settings
from ..speech.tools import tool_instructions
from ..speech.vad import VadParams

MODEL = "local-ai-server"


@dataclass(slots=True)
class Changes:
    """What a `session.update` changed that other roles must act on."""

    input_format: bool = False
    turn_detection: bool = False
    instructions: bool = False  # or the tools: either changes the system prompt


class SessionState:
    def __init__(self, settings: Settings, session_id: str | None = None) -> None:
        self.settings = settings
        self.id = session_id or new_id("sess")
        defaults = settings.session
        self.instructions = defaults.instructions
        self.voice = defaults.voice
        self.input_format = AudioFormat.from_wire(defaults.input_format)
        self.output_format = AudioFormat.from_wire(defaults.output_format)
        self.max_output_tokens: int | None = None
        self.turn_detection: TurnDetection | None = TurnDetection()
        self.tools: tuple[Tool, ...] = ()
        self.tool_choice = "auto"

    def apply(self, patch: SessionConfig) -> Changes:
        changes = Changes()
        if patch.instructions is not UNSET:
            self.instructions = patch.instructions
            changes.instructions = True
        if patch.voice is not UNSET:
            self.voice = patch.voice
        if patch.max_output_tokens is not UNSET:
            self.max_output_tokens = patch.max_output_tokens
        if patch.output_format is not UNSET:
            self.output_format = patch.output_format
        if patch.input_format is not UNSET and patch.input_format != self.input_format:
            self.input_format = patch.input_format
            changes.input_format = True
        if patch.turn_detection is not UNSET:
            self.turn_detection = patch.turn_detection
            changes.turn_detection = True
        if patch.tools is not UNSET and patch.tools != self.tools:
            self.tools = patch.tools
            changes.instructions = True
        if patch.tool_choice is not UNSET and patch.tool_choice != self.tool_choice:
            self.tool_choice = patch.tool_choice
            changes.instructions = True
        return changes

    def tools_prompt(self) -> str:
        """The tools' part of the system prompt ("" without tools: the prompt is as before)."""
        return tool_instructions(self.tools, self.tool_choice) if self.tools else ""

    @property
    def max_tokens(self) -> int:
        return self.max_output_tokens or self.settings.llm.max_tokens

    @property
    def create_response(self) -> bool:
        return self.turn_detection.create_response if self.turn_detection is not None else False

    def vad_params(self) -> VadParams:
        """The endpointer's parameters: the client's `server_vad` values over the server defaults."""
        vad = self.settings.vad
        td = self.turn_detection or TurnDetection()
        aggressiveness = vad.aggressiveness if td.threshold is None else min(3, int(td.threshold * 4))
        return VadParams(
            aggressiveness=aggressiveness,
            energy_floor_dbfs=vad.energy_floor_dbfs,
            silence_duration_ms=td.silence_duration_ms or vad.silence_duration_ms,
            prefix_padding_ms=td.prefix_padding_ms if td.prefix_padding_ms is not None else vad.prefix_padding_ms,
            start_speech_ms=vad.start_speech_ms,
            start_window_ms=vad.start_window_ms,
            max_turn_ms=vad.max_turn_ms,
            speculative_after_ms=vad.speculative_after_ms,
        )

    def wire(self) -> SessionConfig:
        """The session as `session.created` / `session.updated` show it: every value in force."""
        td = None
        if self.turn_detection is not None:
            p = self.vad_params()
            threshold = self.turn_detection.threshold
            td = TurnDetection(
                type="server_vad",  # the only detection this server does (semantic_vad is refused)
                threshold=threshold if threshold is not None else round(p.aggressiveness / 4 + 0.125, 3),
                prefix_padding_ms=p.prefix_padding_ms,
                silence_duration_ms=p.silence_duration_ms,
                create_response=self.turn_detection.create_response,
                interrupt_response=self.turn_detection.interrupt_response,
            )
        return SessionConfig(instructions=self.instructions, voice=self.voice, input_format=self.input_format,
                             output_format=self.output_format, turn_detection=td,
                             transcription=Transcription(model="whisper"), max_output_tokens=self.max_output_tokens,
                             tools=self.tools, tool_choice=self.tool_choice)

    def response_info(self, response_id: str, **fields) -> ResponseInfo:
        """The `response` object of `response.created` / `response.done`, in this session's format."""
        return ResponseInfo(response_id, output_format=self.output_format, voice=self.voice, **fields)
