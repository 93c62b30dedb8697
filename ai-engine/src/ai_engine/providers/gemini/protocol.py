"""Gemini Live API (BidiGenerateContent over WebSocket), sans-IO: the messages we send, and
server messages mapped onto the engine's provider events. `session.py` is the edge.

Every message is one JSON object with exactly one of these fields.

  we send        | carrying
  ---------------+---------------------------------------------------------------------------
  setup          | model, generationConfig (responseModalities [AUDIO], speechConfig voice and
                 | language), systemInstruction, realtimeInputConfig (automatic activity
                 | detection), inputAudioTranscription, outputAudioTranscription,
                 | sessionResumption (with the last handle after a goAway), tools
                 | [{functionDeclarations}] when the persona has tools
  realtimeInput  | audio {data: base64 s16le, mimeType: audio/pcm;rate=16000}
  clientContent  | the greeting: one user turn asking to say the text verbatim, turnComplete
  clientContent  | a key press: one user text turn, turnComplete
  toolResponse   | functionResponses [{id, name, response}]: a tool's result; the model goes on

  server sends                     | maps to
  ---------------------------------+---------------------------------------------------------
  setupComplete                    | (audio may go)
  serverContent.inputTranscription | caller text, collected; Transcript(caller) when the reply starts
  serverContent.modelTurn          | inlineData audio (audio/pcm;rate=24000): ResponseStarted
                                   | (first), AgentAudio
  serverContent.outputTranscription| AgentText
  serverContent.interrupted        | SpeechStarted (the caller barged in), ResponseDone(cancelled)
  serverContent.turnComplete       | ResponseDone(completed)
  goAway {timeLeft}                | GoAway: the edge reconnects before the server drops us
  sessionResumptionUpdate          | the handle a reconnect resumes with
  toolCall {functionCalls}         | ToolCall per call {id, name, args}
  toolCallCancellation             | ignored (a result sent for it is dropped by the server)
  anything else                    | ignored

Errors come as a WebSocket close frame with a reason (the edge's business). Replies have no
ids here: they are numbered ("gm-<session>-<n>").
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from itertools import count

from ...tools.base import ToolSpec
from .. import base

INPUT_RATE = 16000
OUTPUT_RATE = 24000
INPUT_MIME = f"audio/pcm;rate={INPUT_RATE}"

_SESSIONS = count(1)


@dataclass(frozen=True, slots=True)
class SetupComplete:
    pass


@dataclass(frozen=True, slots=True)
class GoAway:
    time_left_s: float


@dataclass(frozen=True, slots=True)
class ResumptionHandle:
    handle: str


Event = base.ProviderEvent | SetupComplete | GoAway | ResumptionHandle


@dataclass(frozen=True, slots=True)
class LiveConfig:
    model: str
    voice: str
    language: str | None
    instructions: str
    start_sensitivity: str | None = None
    end_sensitivity: str | None = None
    silence_duration_ms: int | None = None
    prefix_padding_ms: int | None = None
    tools: tuple[ToolSpec, ...] = ()


def setup_message(config: LiveConfig, resume_handle: str | None = None) -> str:
    speech: dict[str, Any] = {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": config.voice}}}
    if config.language:
        speech["languageCode"] = config.language
    detection: dict[str, Any] = {"disabled": False}
    for key, value in (
        ("startOfSpeechSensitivity", config.start_sensitivity),
        ("endOfSpeechSensitivity", config.end_sensitivity),
        ("silenceDurationMs", config.silence_duration_ms),
        ("prefixPaddingMs", config.prefix_padding_ms),
    ):
        if value is not None:
            detection[key] = value
    setup = {
        "model": config.model,
        "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": speech},
        "systemInstruction": {"parts": [{"text": config.instructions}]},
        "realtimeInputConfig": {"automaticActivityDetection": detection},
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
        "sessionResumption": {"handle": resume_handle} if resume_handle else {},
    }
    if config.tools:
        setup["tools"] = [
            {"functionDeclarations": [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in config.tools]}
        ]
    return json.dumps({"setup": setup})


def audio_message(pcm: bytes) -> str:
    return json.dumps({"realtimeInput": {"audio": {"data": base64.b64encode(pcm).decode("ascii"), "mimeType": INPUT_MIME}}})


def user_text_message(text: str) -> str:
    return json.dumps({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": True}})


def tool_response_message(call_id: str, name: str, output: str) -> str:
    """A tool's result; `response` must be an object, so a result that is not one is wrapped."""
    try:
        value = json.loads(output)
    except ValueError:
        value = output
    response = value if isinstance(value, dict) else {"output": value}
    return json.dumps({"toolResponse": {"functionResponses": [{"id": call_id, "name": name, "response": response}]}})


def greeting_message(text: str) -> str:
    """Live has no 'speak this text' message: a user turn asks the model to say it verbatim (the
    greeting, and later a farewell or a transfer announcement)."""
    prompt = f"Say exactly this to the caller now, word for word, and nothing else: {text}"
    return json.dumps({"clientContent": {"turns": [{"role": "user", "parts": [{"text": prompt}]}], "turnComplete": True}})


def _seconds(duration: Any) -> float:
    """A protobuf Duration in JSON ("10s", "0.5s")."""
    try:
        return float(str(duration).removesuffix("s"))
    except ValueError:
        return 0.0


class LiveProtocol:
    def __init__(self) -> None:
        self._replies = 0
        self._session = next(_SESSIONS)  # reply ids stay unique across a call's reconnects
        self.reply: str | None = None
        self._muted = False  # we cancelled the open reply: its late audio is dropped
        self._caller_text: list[str] = []

    def cancel(self) -> list[Event]:
        """Our own barge-in: Live's activity detection hears the caller too (and answers
        `interrupted`); meanwhile the rest of this reply is dropped here."""
        reply, self.reply = self.reply, None
        self._muted = reply is not None
        return [] if reply is None else [base.ResponseDone(reply, "cancelled")]

    def receive(self, raw: str | bytes) -> list[Event]:
        try:
            msg = json.loads(raw)
        except ValueError:
            return [base.ProviderError("message is not JSON")]
        if not isinstance(msg, dict):
            return [base.ProviderError("message is not a JSON object")]
        if "setupComplete" in msg:
            return [SetupComplete()]
        if "goAway" in msg:
            return [GoAway(_seconds((msg["goAway"] or {}).get("timeLeft", "0s")))]
        if "sessionResumptionUpdate" in msg:
            update = msg["sessionResumptionUpdate"] or {}
            handle = update.get("newHandle")
            return [ResumptionHandle(str(handle))] if handle and update.get("resumable", True) else []
        if "toolCall" in msg:
            return self._tool_calls(msg["toolCall"])
        content = msg.get("serverContent")
        if isinstance(content, dict):
            return self._content(content)
        return []

    @staticmethod
    def _tool_calls(tool_call: Any) -> list[Event]:
        calls = (tool_call or {}).get("functionCalls") if isinstance(tool_call, dict) else None
        if not isinstance(calls, list):
            return []  # nothing asked
        return [
            base.ToolCall(str(c.get("id", "")), str(c.get("name", "")), json.dumps(c.get("args") or {}))
            for c in calls[:16]
            if isinstance(c, dict)
        ]

    def _content(self, content: dict) -> list[Event]:
        events: list[Event] = []
        heard = (content.get("inputTranscription") or {}).get("text")
        if heard:
            self._caller_text.append(str(heard))
        if content.get("interrupted"):
            reply, self.reply = self.reply, None
            self._muted = False
            events.append(base.SpeechStarted())
            if reply is not None:
                events.append(base.ResponseDone(reply, "cancelled"))
        for part in (content.get("modelTurn") or {}).get("parts") or []:
            blob = part.get("inlineData") if isinstance(part, dict) else None
            if not isinstance(blob, dict) or not str(blob.get("mimeType", "")).startswith("audio/pcm"):
                continue
            try:
                pcm = base64.b64decode(blob.get("data", ""), validate=True)
            except (ValueError, binascii.Error):
                events.append(base.ProviderError("model audio is not base64"))
                continue
            if len(pcm) % 2:
                events.append(base.ProviderError("model audio is not whole 16-bit samples"))
            elif not self._muted:
                events += self._open()
                events.append(base.AgentAudio(self.reply or "", pcm, OUTPUT_RATE))
        said = (content.get("outputTranscription") or {}).get("text")
        if said and not self._muted:
            events += self._open()
            events.append(base.AgentText(self.reply or "", str(said)))
        if content.get("turnComplete"):
            events += self._flush_caller()
            reply, self.reply = self.reply, None
            self._muted = False
            if reply is not None:
                events.append(base.ResponseDone(reply, "completed"))
        return events

    def _flush_caller(self) -> list[Event]:
        text, self._caller_text = "".join(self._caller_text).strip(), []
        return [base.Transcript("caller", text)] if text else []

    def _open(self) -> list[Event]:
        if self.reply is not None:
            return []
        events = self._flush_caller()
        self._replies += 1
        self.reply = f"gm-{self._session}-{self._replies}"
        return [*events, base.ResponseStarted(self.reply)]
