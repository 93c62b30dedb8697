"""A strict fake of Google's Gemini Live API (BidiGenerateContent over WebSocket).

Shapes follow the Live API WebSockets reference. Strict as the service is: every client message
holds exactly one of setup / clientContent / realtimeInput / toolResponse; `setup` comes first
and only once, with a `models/...` model and known fields only; realtimeInput audio must be
`audio/pcm;rate=16000` base64. A violation closes the socket with 1007 and a reason, as the
service does; a missing or wrong `x-goog-api-key` closes it with 1008 "API key not valid".
Server messages go out as binary frames of JSON, as the service sends them.

Behaviour: setupComplete, a sessionResumptionUpdate handle when resumption was asked for; the
greeting for a clientContent turn; automatic activity detection on the caller's audio:
inputTranscription, then a model turn playing the caller's speech back at 24 kHz
(modelTurn inlineData audio/pcm;rate=24000, outputTranscription, generationComplete,
turnComplete). Caller speech during a model turn sends `interrupted` and stops it. `go_away`
sends goAway; a new connection resuming with the handle is recorded.

Function calling as the reference has it: `setup.tools` = `[{functionDeclarations: [{name,
description, parameters}]}]`; a caller turn scripted in `tool_turns` is answered with
`toolCall {functionCalls: [{id, name, args}]}`; the client must answer `toolResponse
{functionResponses: [{id, name, response (an object)}]}` with that id, and the model goes on
(a turn of AFTER_TOOL_HZ). A clientContent text turn that is not the greeting request (a key
press) is logged and answered (USER_TEXT_HZ).
"""

from __future__ import annotations

import base64
import binascii
import json
from itertools import count

import anyio
from websockets.asyncio.server import ServerConnection

from fakes.vendor_kit import AFTER_TOOL_HZ, USER_TEXT_HZ, next_tool_step
from fakes.vendor_kit import GREETING_HZ, FakeVendorServer, SessionLog, TurnDetector, chunks, resample, tone, unknown_keys

CLIENT_FIELDS = {"setup", "clientContent", "realtimeInput", "toolResponse"}
SETUP_KEYS = {"model", "generationConfig", "systemInstruction", "tools", "realtimeInputConfig", "sessionResumption",
              "contextWindowCompression", "inputAudioTranscription", "outputAudioTranscription", "proactivity"}
GENERATION_KEYS = {"candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "presencePenalty", "frequencyPenalty",
                   "responseModalities", "speechConfig", "mediaResolution"}
DETECTION_KEYS = {"disabled", "startOfSpeechSensitivity", "endOfSpeechSensitivity", "prefixPaddingMs", "silenceDurationMs"}
REALTIME_KEYS = {"audio", "video", "text", "activityStart", "activityEnd", "audioStreamEnd", "mediaChunks"}
INPUT_MIME = "audio/pcm;rate=16000"
OUTPUT_RATE = 24000


def tools_problems(tools: object) -> list[str]:
    if not isinstance(tools, list):
        return ["setup.tools"]
    problems = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or unknown_keys(tool, {"functionDeclarations", "googleSearch", "codeExecution"}):
            problems.append(f"setup.tools[{i}]")
            continue
        for j, fn in enumerate(tool.get("functionDeclarations") or []):
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or unknown_keys(fn, {"name", "description", "parameters", "behavior"}):
                problems.append(f"setup.tools[{i}].functionDeclarations[{j}]")
    return problems


def setup_problems(setup: object) -> list[str]:
    if not isinstance(setup, dict):
        return ["setup"]
    problems = [f"setup.{k}" for k in unknown_keys(setup, SETUP_KEYS)]
    if "tools" in setup:
        problems += tools_problems(setup["tools"])
    if not str(setup.get("model", "")).startswith("models/"):
        problems.append("setup.model")
    generation = setup.get("generationConfig", {})
    problems += [f"generationConfig.{k}" for k in unknown_keys(generation, GENERATION_KEYS)]
    if generation.get("responseModalities") not in (None, ["AUDIO"], ["TEXT"]):
        problems.append("generationConfig.responseModalities")
    speech = generation.get("speechConfig", {})
    problems += [f"speechConfig.{k}" for k in unknown_keys(speech, {"voiceConfig", "languageCode", "multiSpeakerVoiceConfig"})]
    instruction = setup.get("systemInstruction", {"parts": []})
    if not isinstance(instruction, dict) or not all(isinstance(p, dict) and set(p) == {"text"} for p in instruction.get("parts", [])):
        problems.append("setup.systemInstruction")
    detection = (setup.get("realtimeInputConfig") or {}).get("automaticActivityDetection", {})
    problems += [f"automaticActivityDetection.{k}" for k in unknown_keys(detection, DETECTION_KEYS)]
    for name in ("inputAudioTranscription", "outputAudioTranscription"):
        if name in setup and setup[name] != {}:
            problems.append(f"setup.{name}")
    problems += [f"sessionResumption.{k}" for k in unknown_keys(setup.get("sessionResumption", {}), {"handle", "transparent"})]
    return problems


class GeminiLiveLog(SessionLog):
    setup: dict | None = None
    resumed_with: str | None = None


class FakeGeminiLive(FakeVendorServer):
    path = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    output_rate = OUTPUT_RATE

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._ids = count(1)
        self.live: list[_Session] = []
        self.handles: set[str] = set()

    async def serve_session(self, ws: ServerConnection, log: SessionLog) -> None:
        log.__class__ = GeminiLiveLog
        session = _Session(self, ws, log)
        self.live.append(session)
        if ws.request.headers.get("x-goog-api-key") != self.key:
            log.errors.append("API key not valid")
            await ws.close(1008, "API key not valid. Please pass a valid API key.")
            return
        await session.run()

    async def go_away(self, index: int, time_left: str = "10s") -> None:
        await self.live[index].send({"goAway": {"timeLeft": time_left}})

    async def send_error(self, index: int) -> None:
        """The service reports errors by closing the socket with a code and a reason."""
        await self.connections[index].close(1011, "Internal error encountered.")


class _Session:
    def __init__(self, server: FakeGeminiLive, ws: ServerConnection, log: GeminiLiveLog):
        self.server, self.ws, self.log = server, ws, log
        self.vad = TurnDetector(16000)
        self.turn_scope: anyio.CancelScope | None = None

    async def send(self, msg: dict) -> None:
        self.log.sent.append(msg)
        await self.ws.send(json.dumps(msg).encode())

    async def reject(self, reason: str) -> None:
        self.log.errors.append(reason)
        await self.ws.close(1007, reason)

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            self.tg = tg
            async for raw in self.ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    await self.reject("Invalid JSON payload received.")
                    break
                self.log.received.append(msg)
                if not isinstance(msg, dict) or len(msg) != 1 or next(iter(msg)) not in CLIENT_FIELDS:
                    await self.reject(f"Invalid JSON payload received. Unknown name {sorted(msg) if isinstance(msg, dict) else msg!r}")
                    break
                if not await self.on_message(*next(iter(msg.items()))):
                    break
            tg.cancel_scope.cancel()

    async def on_message(self, field: str, body: dict) -> bool:
        if (field == "setup") == (self.log.setup is not None):
            await self.reject("setup must be the first message, and only once")
            return False
        if field == "setup":
            problems = setup_problems(body)
            if problems:
                await self.reject(f"Invalid JSON payload received. Unknown name {problems[0]!r}")
                return False
            self.log.setup = body
            self.log.tools = [f["name"] for t in body.get("tools") or [] for f in t.get("functionDeclarations") or []]
            handle = (body.get("sessionResumption") or {}).get("handle")
            if handle is not None and handle not in self.server.handles:
                await self.reject("session resumption handle not found")
                return False
            self.log.resumed_with = handle
            await self.send({"setupComplete": {}})
            if "sessionResumption" in body:
                new = f"handle-{next(self.server._ids)}"
                self.server.handles.add(new)
                await self.send({"sessionResumptionUpdate": {"newHandle": new, "resumable": True}})
            return True
        if field == "clientContent":
            if unknown_keys(body, {"turns", "turnComplete"}):
                await self.reject("Invalid JSON payload received. Unknown name in clientContent")
                return False
            text = " ".join(p.get("text", "") for t in body.get("turns") or [] for p in t.get("parts") or [])
            if "word for word" in text:  # the client asks for a sentence said verbatim
                self.log.agent_texts.append(text.split(": ", 1)[-1])
                self.start_turn("Hello.", tone(GREETING_HZ, self.server.greeting_ms, OUTPUT_RATE))
            else:
                self.log.user_texts.append(text)
                self.start_turn("About your keys.", tone(USER_TEXT_HZ, self.server.greeting_ms, OUTPUT_RATE))
            return True
        if field == "toolResponse":
            responses = body.get("functionResponses") if isinstance(body, dict) else None
            if unknown_keys(body, {"functionResponses"}) or not isinstance(responses, list) or not responses:
                await self.reject("Invalid JSON payload received. toolResponse")
                return False
            for r in responses:
                if not isinstance(r, dict) or unknown_keys(r, {"id", "name", "response", "scheduling", "willContinue"}) \
                        or r.get("id") not in self.log.calls_made or not isinstance(r.get("response"), dict):
                    await self.reject(f"Invalid functionResponse {r!r}")
                    return False
                self.log.tool_outputs.append((r["id"], r["response"]))
            self.start_turn("After the function.", tone(AFTER_TOOL_HZ, self.server.greeting_ms, OUTPUT_RATE))
            return True
        if field == "realtimeInput":
            return await self.on_realtime_input(body)
        return True

    async def on_realtime_input(self, body: dict) -> bool:
        audio = body.get("audio") if isinstance(body, dict) else None
        if unknown_keys(body, REALTIME_KEYS) or len(body) != 1 or not isinstance(audio, dict) or set(audio) != {"data", "mimeType"}:
            await self.reject("Invalid JSON payload received. realtimeInput")
            return False
        if audio["mimeType"] != INPUT_MIME:
            await self.reject(f"Unsupported mime type {audio['mimeType']!r}")
            return False
        try:
            pcm = base64.b64decode(audio["data"], validate=True)
        except (ValueError, binascii.Error):
            await self.reject("Invalid value at 'realtime_input.audio.data' (TYPE_BYTES)")
            return False
        self.log.input_rate = 16000
        self.log.audio_in += len(pcm)
        change = self.vad.feed(pcm)
        if change == "start" and self.turn_scope is not None:
            self.turn_scope.cancel()
            self.turn_scope = None
            self.log.cancelled += 1
            await self.send({"serverContent": {"interrupted": True}})
        elif change == "stop":
            await self.send({"serverContent": {"inputTranscription": {"text": f"{self.vad.speech_ms()} ms of speech"}}})
            step = next_tool_step(self.server, self.log)
            if step is not None:
                call_id = f"function-call-{next(self.server._ids)}"
                self.log.calls_made[call_id] = step[0]
                await self.send({"toolCall": {"functionCalls": [{"id": call_id, "name": step[0], "args": step[1]}]}})
                return True
            self.start_turn("Here is what you said.", resample(self.vad.speech(), 16000, OUTPUT_RATE))
        return True

    def start_turn(self, text: str, pcm: bytes) -> None:
        if self.turn_scope is not None:
            self.turn_scope.cancel()
        self.turn_scope = scope = anyio.CancelScope()
        self.tg.start_soon(self.model_turn, scope, text, pcm)

    async def model_turn(self, scope: anyio.CancelScope, text: str, pcm: bytes) -> None:
        with scope:
            await self.send({"serverContent": {"outputTranscription": {"text": text}}})
            for n, chunk in enumerate(chunks(pcm, OUTPUT_RATE, self.server.chunk_ms)):
                if self.server.chunk_interval_s:
                    await anyio.sleep(self.server.chunk_interval_s)
                if n == 0:
                    self.log.first_audio.append(anyio.current_time())
                blob = {"mimeType": f"audio/pcm;rate={OUTPUT_RATE}", "data": base64.b64encode(chunk).decode()}
                await self.send({"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}})
            await self.send({"serverContent": {"generationComplete": True}})
            await self.send({"serverContent": {"turnComplete": True}})
        if self.turn_scope is scope:
            self.turn_scope = None
