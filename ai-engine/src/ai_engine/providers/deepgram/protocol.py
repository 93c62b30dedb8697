"""Deepgram Voice Agent API v1, sans-IO: the messages we send, and server messages mapped onto
the engine's provider events. No socket here; `session.py` is the edge.

One WebSocket; JSON text messages and binary audio both ways.

  we send                 | when
  ------------------------+----------------------------------------------------------------
  Settings                | first, before any audio: audio.input/output encodings, agent
                          | language, listen/think/speak providers, prompt, greeting
  (binary audio)          | caller audio in audio.input's encoding
  KeepAlive               | when no audio went out for a while
  FunctionCallResponse    | a tool's result {id, name, content}; the agent goes on by itself
  InjectAgentMessage      | a sentence said verbatim mid-call (farewell, transfer announcement)
  InjectUserMessage       | a key press told to the agent as a user turn

  server sends            | maps to
  ------------------------+----------------------------------------------------------------
  Welcome                 | (start of the session: Settings may go)
  SettingsApplied         | (audio may go)
  UserStartedSpeaking     | SpeechStarted; the open reply ends (cancelled): the server stops it
  ConversationText        | role user: Transcript(caller); role assistant: AgentText
  AgentThinking           | nothing (logged)
  AgentStartedSpeaking    | ResponseStarted (if none is open); TurnMetrics (its latencies)
  (binary audio)          | AgentAudio of the open reply (one is opened if none is)
  AgentAudioDone          | ResponseDone(completed)
  FunctionCallRequest     | ToolCall per client_side function (Settings offered them in
                          | agent.think.functions); server-side ones are the vendor's business
  Warning                 | ProviderError (the session goes on)
  InjectionRefused        | ProviderError (the sentence we injected was not said)
  Error                   | ProviderError, then Fatal: the reference calls every Error fatal
  anything else           | ignored

Deepgram has no reply ids: replies are numbered here ("dg-<session>-<n>").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from itertools import count

from ...tools.base import ToolSpec
from .. import base
from ..ws_edge import ulaw_decode, ulaw_encode

WELCOME = "Welcome"
SETTINGS = "Settings"
SETTINGS_APPLIED = "SettingsApplied"
KEEP_ALIVE = "KeepAlive"
USER_STARTED_SPEAKING = "UserStartedSpeaking"
CONVERSATION_TEXT = "ConversationText"
AGENT_THINKING = "AgentThinking"
AGENT_STARTED_SPEAKING = "AgentStartedSpeaking"
AGENT_AUDIO_DONE = "AgentAudioDone"
ERROR = "Error"
WARNING = "Warning"
FUNCTION_CALL_REQUEST = "FunctionCallRequest"
FUNCTION_CALL_RESPONSE = "FunctionCallResponse"
INJECT_AGENT_MESSAGE = "InjectAgentMessage"
INJECT_USER_MESSAGE = "InjectUserMessage"
INJECTION_REFUSED = "InjectionRefused"

_SESSIONS = count(1)


@dataclass(frozen=True, slots=True)
class Welcome:
    request_id: str


@dataclass(frozen=True, slots=True)
class SettingsApplied:
    pass


@dataclass(frozen=True, slots=True)
class Fatal:
    """The session cannot go on (an `Error`); `rejected` when retrying cannot help."""

    reason: str
    rejected: bool = False


Event = base.ProviderEvent | Welcome | SettingsApplied | Fatal


@dataclass(frozen=True, slots=True)
class AgentConfig:
    encoding: str  # mulaw | linear16
    sample_rate: int
    language: str | None
    listen_model: str
    think_provider: str
    think_model: str
    speak_model: str
    prompt: str
    tools: tuple[ToolSpec, ...] = ()


def settings_message(config: AgentConfig, greeting: str | None) -> str:
    think: dict[str, Any] = {"provider": {"type": config.think_provider, "model": config.think_model}, "prompt": config.prompt}
    if config.tools:  # client-side functions (no endpoint): the server asks us with FunctionCallRequest
        think["functions"] = [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in config.tools]
    agent: dict[str, Any] = {
        "listen": {"provider": {"type": "deepgram", "model": config.listen_model}},
        "think": think,
        "speak": {"provider": {"type": "deepgram", "model": config.speak_model}},
    }
    if config.language:
        agent["language"] = config.language
    if greeting:
        agent["greeting"] = greeting
    msg = {
        "type": SETTINGS,
        "audio": {
            "input": {"encoding": config.encoding, "sample_rate": config.sample_rate},
            "output": {"encoding": config.encoding, "sample_rate": config.sample_rate, "container": "none"},
        },
        "agent": agent,
    }
    return json.dumps(msg)


def function_call_response(call_id: str, name: str, content: str) -> str:
    return json.dumps({"type": FUNCTION_CALL_RESPONSE, "id": call_id, "name": name, "content": content})


def inject_user_message(text: str) -> str:
    return json.dumps({"type": INJECT_USER_MESSAGE, "content": text})


def inject_agent_message(text: str) -> str:
    return json.dumps({"type": INJECT_AGENT_MESSAGE, "message": text})


def keep_alive_message() -> str:
    return json.dumps({"type": KEEP_ALIVE})


class AgentProtocol:
    """State of one Voice Agent connection: the open reply, and replies the caller cut off."""

    def __init__(self, encoding: str, sample_rate: int):
        self.encoding = encoding
        self.rate = sample_rate
        self._replies = 0
        self._session = next(_SESSIONS)  # reply ids stay unique across a call's reconnects
        self.reply: str | None = None  # the reply whose audio is playing
        self._muted = False  # the open reply was interrupted: its late audio is dropped

    # ---- caller audio out ----------------------------------------------------------------

    def encode_audio(self, pcm: bytes) -> bytes:
        return ulaw_encode(pcm) if self.encoding == "mulaw" else pcm

    # ---- barge-in -----------------------------------------------------------------------

    def cancel(self) -> list[Event]:
        """Our own barge-in: the vendor has no cancel message (it acts on the caller's audio,
        see UserStartedSpeaking); the rest of this reply's audio is dropped here."""
        events = self._close("cancelled")
        self._muted = True
        return events

    # ---- server messages in --------------------------------------------------------------

    def receive_audio(self, data: bytes) -> list[Event]:
        if self._muted:
            return []
        if self.encoding == "linear16" and len(data) % 2:
            return [base.ProviderError("agent audio is not whole 16-bit samples")]
        pcm = ulaw_decode(data) if self.encoding == "mulaw" else data
        events = self._open()
        events.append(base.AgentAudio(self.reply or "", pcm, self.rate))
        return events

    def receive_text(self, raw: str | bytes) -> list[Event]:
        try:
            msg = json.loads(raw)
        except ValueError:
            return [base.ProviderError("message is not JSON")]
        if not isinstance(msg, dict):
            return [base.ProviderError("message is not a JSON object")]
        kind = msg.get("type")
        if kind == WELCOME:
            return [Welcome(str(msg.get("request_id", "")))]
        if kind == SETTINGS_APPLIED:
            return [SettingsApplied()]
        if kind == USER_STARTED_SPEAKING:
            events = self._close("cancelled")
            self._muted = True
            return [base.SpeechStarted(), *events]
        if kind == CONVERSATION_TEXT:
            text = str(msg.get("content", ""))
            if msg.get("role") == "user":
                return [base.Transcript("caller", text)]
            events = self._open(unmute=True)
            return [*events, base.AgentText(self.reply or "", text)]
        if kind == AGENT_STARTED_SPEAKING:
            events = self._open(unmute=True)
            latencies = {f"{k.removesuffix('_latency')}_ms": float(v) * 1000 for k, v in msg.items() if k.endswith("_latency") and isinstance(v, int | float)}
            return [*events, base.TurnMetrics(latencies)] if latencies else events
        if kind == AGENT_AUDIO_DONE:
            self._muted = False
            return self._close("completed")
        if kind == FUNCTION_CALL_REQUEST:
            return self._function_calls(msg.get("functions"))
        if kind == INJECTION_REFUSED:  # the agent was speaking or the user was: the sentence is not said
            return [base.ProviderError(f"injection refused: {msg.get('message', '')}")]
        if kind == WARNING:
            return [base.ProviderError(f"warning {msg.get('code', '')}: {msg.get('description', '')}")]
        if kind == ERROR:
            code, text = str(msg.get("code", "")), str(msg.get("description", ""))
            return [base.ProviderError(f"error {code}: {text}"), Fatal(f"{code}: {text}")]
        return []  # AgentThinking, function calls, PromptUpdated, ...: nothing for the engine

    @staticmethod
    def _function_calls(functions: Any) -> list[Event]:
        if not isinstance(functions, list):
            return [base.ProviderError("FunctionCallRequest without a functions list")]
        events: list[Event] = []
        for f in functions[:16]:
            if not isinstance(f, dict) or not f.get("client_side", True):
                continue  # a server-side function: the vendor runs it
            args = f.get("arguments", "")
            events.append(base.ToolCall(str(f.get("id", "")), str(f.get("name", "")), args if isinstance(args, str) else json.dumps(args)))
        return events

    def _open(self, unmute: bool = False) -> list[Event]:
        if unmute:
            self._muted = False
        if self.reply is not None:
            return []
        self._replies += 1
        self.reply = f"dg-{self._session}-{self._replies}"
        return [base.ResponseStarted(self.reply)]

    def _close(self, status: str) -> list[Event]:
        reply, self.reply = self.reply, None
        return [] if reply is None else [base.ResponseDone(reply, status)]
