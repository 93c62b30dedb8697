"""A strict fake of Deepgram's Voice Agent API v1 (wss://agent.deepgram.com/v1/agent/converse).

Message shapes follow the reference's own examples: `Welcome` on connect; `Settings` must come
first (any other message, or audio, before it is an `Error` and the socket closes, as the
service does); unknown fields or a bad encoding in `Settings` are an `Error`
(UNPARSABLE_CLIENT_MESSAGE); then `SettingsApplied`, the greeting (ConversationText assistant,
AgentStartedSpeaking, binary audio, AgentAudioDone), and for each caller turn:
UserStartedSpeaking, ConversationText user, AgentThinking, ConversationText assistant,
AgentStartedSpeaking, binary audio, AgentAudioDone. Caller speech while the agent talks stops
the reply (UserStartedSpeaking), as the service's own barge-in does. Auth: `Authorization:
Token <key>`, else HTTP 401.

Function calling as the reference has it: `agent.think.functions` entries are `{name,
description, parameters}` (plus `endpoint` for server-side ones); a caller turn scripted in
`tool_turns` is answered with `FunctionCallRequest {functions: [{id, name, arguments (JSON
text), client_side: true}]}`; the client must answer `FunctionCallResponse {id, name, content}`
with that id, after which the agent speaks on by itself (a reply of AFTER_TOOL_HZ).
`InjectAgentMessage {message}` is said (440 Hz), `InjectUserMessage {content}` is answered
(USER_TEXT_HZ).
"""

from __future__ import annotations

import json

import anyio
from websockets.asyncio.server import ServerConnection

from fakes.vendor_kit import AFTER_TOOL_HZ, USER_TEXT_HZ, next_tool_step
from fakes.vendor_kit import GREETING_HZ, FakeVendorServer, SessionLog, TurnDetector, chunks, resample, tone, ulaw_decode, ulaw_encode, unknown_keys

SETTINGS_KEYS = {"type", "tags", "experimental", "mip_opt_out", "flags", "audio", "agent"}
AUDIO_IN_KEYS = {"encoding", "sample_rate"}
AUDIO_OUT_KEYS = {"encoding", "sample_rate", "container", "bitrate"}
AGENT_KEYS = {"language", "listen", "think", "speak", "greeting", "context"}
LISTEN_PROVIDER_KEYS = {"type", "model", "keyterms", "smart_format"}
THINK_KEYS = {"provider", "prompt", "functions", "endpoint", "context_length"}
THINK_PROVIDER_KEYS = {"type", "model", "temperature"}
SPEAK_PROVIDER_KEYS = {"type", "model", "voice", "language_code"}
FUNCTION_KEYS = {"name", "description", "parameters", "endpoint"}
ENCODINGS = {"linear16", "mulaw", "alaw"}
CLIENT_TYPES = {"Settings", "KeepAlive", "UpdatePrompt", "UpdateSpeak", "InjectAgentMessage", "InjectUserMessage", "FunctionCallResponse"}


def settings_problems(msg: dict) -> list[str]:
    problems = unknown_keys(msg, SETTINGS_KEYS)
    audio = msg.get("audio") or {}
    problems += [f"audio.{k}" for k in unknown_keys(audio, {"input", "output"})]
    problems += [f"audio.input.{k}" for k in unknown_keys(audio.get("input", {}), AUDIO_IN_KEYS)]
    problems += [f"audio.output.{k}" for k in unknown_keys(audio.get("output", {}), AUDIO_OUT_KEYS)]
    for side in ("input", "output"):
        fmt = audio.get(side) or {}
        if fmt.get("encoding", "linear16") not in ENCODINGS:
            problems.append(f"audio.{side}.encoding={fmt.get('encoding')}")
        if not isinstance(fmt.get("sample_rate", 16000), int):
            problems.append(f"audio.{side}.sample_rate")
    agent = msg.get("agent")
    if not isinstance(agent, dict):
        return problems + ["agent missing"]
    problems += [f"agent.{k}" for k in unknown_keys(agent, AGENT_KEYS)]
    listen = (agent.get("listen") or {}).get("provider")
    problems += [f"agent.listen.provider.{k}" for k in unknown_keys(listen, LISTEN_PROVIDER_KEYS)]
    think = agent.get("think") or {}
    problems += [f"agent.think.{k}" for k in unknown_keys(think, THINK_KEYS)]
    problems += [f"agent.think.provider.{k}" for k in unknown_keys(think.get("provider"), THINK_PROVIDER_KEYS)]
    for i, fn in enumerate(think.get("functions") or []):
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            problems.append(f"agent.think.functions[{i}]")
        else:
            problems += [f"agent.think.functions[{i}].{k}" for k in unknown_keys(fn, FUNCTION_KEYS)]
    speak = (agent.get("speak") or {}).get("provider")
    problems += [f"agent.speak.provider.{k}" for k in unknown_keys(speak, SPEAK_PROVIDER_KEYS)]
    return problems


class FakeDeepgramAgent(FakeVendorServer):
    path = "/v1/agent/converse"

    def _process_request(self, connection, request):
        if request.headers.get("Authorization") != f"Token {self.key}":
            return connection.respond(401, "Unauthorized\n")
        return None

    async def serve_session(self, ws: ServerConnection, log: SessionLog) -> None:
        await _Session(self, ws, log).run()

    async def send_error(self, index: int, code: str = "INTERNAL_SERVER_ERROR", description: str = "test error") -> None:
        """An `Error` (fatal, per the reference) followed by the close the service does."""
        ws = self.connections[index]
        message = {"type": "Error", "description": description, "code": code}
        self.sessions[index].sent.append(message)
        await ws.send(json.dumps(message))
        await ws.close(1011, description)


class _Session:
    def __init__(self, server: FakeDeepgramAgent, ws: ServerConnection, log: SessionLog):
        self.server, self.ws, self.log = server, ws, log
        self.settings: dict | None = None
        self.reply_scope: anyio.CancelScope | None = None

    async def send(self, msg: dict) -> None:
        self.log.sent.append(msg)
        await self.ws.send(json.dumps(msg))

    async def fail(self, code: str, description: str) -> None:
        self.log.errors.append(f"{code}: {description}")
        await self.send({"type": "Error", "description": description, "code": code})
        await self.ws.close(1008, code)

    async def run(self) -> None:
        await self.send({"type": "Welcome", "request_id": "fc553ec9-5874-49ca-a47c-b670d525a4b1"})
        async with anyio.create_task_group() as tg:
            self.tg = tg
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    self.log.received.append(raw)
                    if self.settings is None:
                        await self.fail("UNPARSABLE_CLIENT_MESSAGE", "audio received before Settings")
                        break
                    await self.on_audio(raw)
                    continue
                try:
                    msg = json.loads(raw)
                except ValueError:
                    await self.fail("UNPARSABLE_CLIENT_MESSAGE", "not JSON")
                    break
                self.log.received.append(msg)
                if not await self.on_message(msg):
                    break
            tg.cancel_scope.cancel()

    async def on_message(self, msg: dict) -> bool:
        kind = msg.get("type")
        if kind not in CLIENT_TYPES:
            await self.fail("UNPARSABLE_CLIENT_MESSAGE", f"unknown message type {kind!r}")
            return False
        if self.settings is None and kind != "Settings":
            await self.fail("UNPARSABLE_CLIENT_MESSAGE", f"{kind} before Settings")
            return False
        if kind == "Settings":
            problems = settings_problems(msg)
            if problems:
                await self.fail("UNPARSABLE_CLIENT_MESSAGE", f"invalid Settings: {', '.join(problems)}")
                return False
            self.settings = msg
            self.log.tools = [f["name"] for f in msg["agent"].get("think", {}).get("functions") or []]
            fmt = msg["audio"]["input"]
            self.encoding, self.log.input_rate = fmt.get("encoding", "linear16"), fmt.get("sample_rate", 16000)
            out = msg["audio"]["output"]
            self.out_encoding, self.out_rate = out.get("encoding", "linear16"), out.get("sample_rate", 24000)
            self.vad = TurnDetector(self.log.input_rate)
            await self.send({"type": "SettingsApplied"})
            greeting = msg["agent"].get("greeting")
            if greeting:
                self.start_reply(greeting, tone(GREETING_HZ, self.server.greeting_ms, self.out_rate))
        elif kind == "FunctionCallResponse":
            if unknown_keys(msg, {"type", "id", "name", "content"}) or msg.get("id") not in self.log.calls_made:
                await self.fail("UNPARSABLE_CLIENT_MESSAGE", f"bad FunctionCallResponse {msg!r}")
                return False
            try:
                content = json.loads(msg.get("content", ""))
            except ValueError:
                content = msg.get("content")
            self.log.tool_outputs.append((msg["id"], content))
            self.start_reply("After the function.", tone(AFTER_TOOL_HZ, self.server.greeting_ms, self.out_rate))
        elif kind == "InjectAgentMessage":
            self.log.agent_texts.append(str(msg.get("message", "")))
            self.start_reply(str(msg.get("message", "")), tone(GREETING_HZ, self.server.greeting_ms, self.out_rate))
        elif kind == "InjectUserMessage":
            self.log.user_texts.append(str(msg.get("content", "")))
            self.start_reply("About your keys.", tone(USER_TEXT_HZ, self.server.greeting_ms, self.out_rate))
        return True

    async def on_audio(self, data: bytes) -> None:
        pcm = ulaw_decode(data) if self.encoding == "mulaw" else data
        self.log.audio_in += len(pcm)
        change = self.vad.feed(pcm)
        if change == "start":
            await self.send({"type": "UserStartedSpeaking"})
            if self.reply_scope is not None:
                self.reply_scope.cancel()
                self.log.cancelled += 1
        elif change == "stop":
            await self.send({"type": "ConversationText", "role": "user", "content": f"{self.vad.speech_ms()} ms of speech"})
            await self.send({"type": "AgentThinking", "content": "echoing"})
            step = next_tool_step(self.server, self.log)
            if step is not None:
                call_id = f"fc_{len(self.log.calls_made) + 1}"
                self.log.calls_made[call_id] = step[0]
                await self.send({"type": "FunctionCallRequest", "functions": [
                    {"id": call_id, "name": step[0], "arguments": json.dumps(step[1]), "client_side": True}]})
                return
            self.start_reply("Here is what you said.", resample(self.vad.speech(), self.log.input_rate, self.out_rate))

    def start_reply(self, text: str, pcm: bytes) -> None:
        if self.reply_scope is not None:
            self.reply_scope.cancel()
        self.reply_scope = scope = anyio.CancelScope()
        self.tg.start_soon(self.reply, scope, text, pcm)

    async def reply(self, scope: anyio.CancelScope, text: str, pcm: bytes) -> None:
        with scope:
            await self.send({"type": "ConversationText", "role": "assistant", "content": text})
            await self.send({"type": "AgentStartedSpeaking", "total_latency": 0.3, "tts_latency": 0.1, "ttt_latency": 0.2})
            for n, chunk in enumerate(chunks(pcm, self.out_rate, self.server.chunk_ms)):
                if self.server.chunk_interval_s:
                    await anyio.sleep(self.server.chunk_interval_s)
                if n == 0:
                    self.log.first_audio.append(anyio.current_time())
                await self.ws.send(ulaw_encode(chunk) if self.out_encoding == "mulaw" else chunk)
            await self.send({"type": "AgentAudioDone"})
        if self.reply_scope is scope:
            self.reply_scope = None
