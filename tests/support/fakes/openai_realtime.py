"""A strict fake of OpenAI's Realtime API (GA) over WebSocket (wss://api.openai.com/v1/realtime).

Shapes follow the API reference's client and server events. Strict as the service is: the model
goes in the URL (`?model=`), `Authorization: Bearer <key>` (else HTTP 401); `session.update`
must say `type: realtime` and may not carry `model` or unknown fields; `audio/pcm` only at
24000 Hz (else `audio/pcmu`/`audio/pcma`); a `conversation.item.truncate` must name an
assistant audio item and may not go past its audio. Each violation is an `error` event
(invalid_request_error, with `param`), and the fake records it.

Behaviour: server VAD on the caller's audio (speech_started / speech_stopped, committed, the
input transcription when transcription was configured), then a response that plays the
caller's speech back (response.created, output_item.added, output_audio.delta with item_id,
output_audio_transcript.delta, output_audio.done, response.done). New caller speech cancels a
response in progress (interrupt_response). `response.create` with instructions is the greeting.

Tools (function calling, as the reference has it): `session.tools` entries must be
`{type: function, name, description, parameters}`; a caller turn scripted in `tool_turns` is
answered by a response whose output is a `function_call` item (output_item.added,
response.function_call_arguments.delta/.done with call_id, output_item.done, response.done with
the item in `output`); `conversation.item.create` must then carry a `function_call_output`
with a known `call_id` and a string `output`; `response.create` after it is a reply of
AFTER_TOOL_HZ. A user `message` item with `input_text` content (a key press) is logged and its
reply is USER_TEXT_HZ.
"""

from __future__ import annotations

import base64
import binascii
import json
from itertools import count

import anyio
from websockets.asyncio.server import ServerConnection

from fakes.vendor_kit import (
    AFTER_TOOL_HZ,
    GREETING_HZ,
    USER_TEXT_HZ,
    next_tool_step,
    FakeVendorServer,
    SessionLog,
    TurnDetector,
    chunks,
    tone,
    ulaw_decode,
    ulaw_encode,
    unknown_keys,
)

SESSION_KEYS = {"type", "instructions", "output_modalities", "audio", "tools", "tool_choice", "max_output_tokens",
                "tracing", "truncation", "prompt", "include"}
INPUT_KEYS = {"format", "transcription", "turn_detection", "noise_reduction"}
OUTPUT_KEYS = {"format", "voice", "speed"}
SERVER_VAD_KEYS = {"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response", "interrupt_response", "idle_timeout_ms"}
SEMANTIC_VAD_KEYS = {"type", "eagerness", "create_response", "interrupt_response"}
TRANSCRIPTION_KEYS = {"model", "language", "prompt"}
RESPONSE_KEYS = {"instructions", "output_modalities", "conversation", "input", "metadata", "audio", "tools", "tool_choice",
                 "max_output_tokens", "prompt"}
TOOL_KEYS = {"type", "name", "description", "parameters"}
OUTPUT_ITEM_KEYS = {"id", "type", "call_id", "output"}
MESSAGE_ITEM_KEYS = {"id", "type", "role", "content", "status"}
CLIENT_TYPES = {"session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
                "conversation.item.create", "conversation.item.truncate", "conversation.item.delete", "response.create",
                "response.cancel"}


def format_problem(fmt: object, where: str) -> str | None:
    if not isinstance(fmt, dict):
        return where
    if fmt.get("type") == "audio/pcm":
        return None if fmt.get("rate", 24000) == 24000 and set(fmt) <= {"type", "rate"} else f"{where}.rate"
    if fmt.get("type") in ("audio/pcmu", "audio/pcma"):
        return None if set(fmt) == {"type"} else f"{where}"
    return f"{where}.type"


def session_problems(session: object) -> list[str]:
    if not isinstance(session, dict):
        return ["session"]
    problems = [f"session.{k}" for k in unknown_keys(session, SESSION_KEYS)]
    if session.get("type") != "realtime":
        problems.append("session.type")
    audio = session.get("audio", {})
    problems += [f"session.audio.{k}" for k in unknown_keys(audio, {"input", "output"})]
    inp, out = audio.get("input", {}), audio.get("output", {})
    problems += [f"session.audio.input.{k}" for k in unknown_keys(inp, INPUT_KEYS)]
    problems += [f"session.audio.output.{k}" for k in unknown_keys(out, OUTPUT_KEYS)]
    for fmt, where in ((inp.get("format"), "session.audio.input.format"), (out.get("format"), "session.audio.output.format")):
        if fmt is not None and (problem := format_problem(fmt, where)):
            problems.append(problem)
    turn = inp.get("turn_detection")
    if isinstance(turn, dict):
        allowed = SEMANTIC_VAD_KEYS if turn.get("type") == "semantic_vad" else SERVER_VAD_KEYS
        problems += [f"session.audio.input.turn_detection.{k}" for k in unknown_keys(turn, allowed)]
        if turn.get("type") not in ("server_vad", "semantic_vad"):
            problems.append("session.audio.input.turn_detection.type")
    for i, t in enumerate(session.get("tools") or []):
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(t.get("name"), str):
            problems.append(f"session.tools[{i}]")
        else:
            problems += [f"session.tools[{i}].{k}" for k in unknown_keys(t, TOOL_KEYS)]
    if session.get("tool_choice", "auto") not in ("auto", "none", "required"):
        problems.append("session.tool_choice")
    if "transcription" in inp and inp["transcription"] is not None:
        problems += [f"session.audio.input.transcription.{k}" for k in unknown_keys(inp["transcription"], TRANSCRIPTION_KEYS)]
    return problems


class OpenAIRealtimeLog(SessionLog):
    input_format: dict | None = None
    output_format: dict | None = None
    session: dict | None = None


class FakeOpenAIRealtime(FakeVendorServer):
    path = "/v1/realtime"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._ids = count(1)
        self.live: list[_Session] = []

    def _process_request(self, connection, request):
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return connection.respond(401, '{"error": {"type": "invalid_request_error", "code": "invalid_api_key"}}\n')
        if "model=" not in request.path:
            return connection.respond(400, '{"error": {"message": "model is required"}}\n')
        return None

    async def serve_session(self, ws: ServerConnection, log: SessionLog) -> None:
        log.__class__ = OpenAIRealtimeLog
        session = _Session(self, ws, log)
        self.live.append(session)
        await session.run()

    async def send_error(self, index: int, code: str = "server_error") -> None:
        await self.live[index].send(
            {"type": "error", "event_id": "event_err", "error": {"type": "rate_limit_error" if "rate" in code else "server_error",
                                                                  "code": code, "message": f"test {code}", "param": None}}
        )


class _Session:
    def __init__(self, server: FakeOpenAIRealtime, ws: ServerConnection, log: OpenAIRealtimeLog):
        self.server, self.ws, self.log = server, ws, log
        self.pcmu = True
        self.rate = 8000
        self.vad = TurnDetector(8000)
        self.transcribe = False
        self.response_scope: anyio.CancelScope | None = None
        self.items: dict[str, int] = {}  # assistant audio item -> its audio in ms
        self.pending_hz: int | None = None  # the tone of the reply the next response.create starts

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.server._ids)}"

    async def send(self, msg: dict) -> None:
        msg = {"event_id": self.next_id("event"), **msg}
        self.log.sent.append(msg)
        await self.ws.send(json.dumps(msg))

    async def invalid(self, param: str, message: str, event_id: str | None = None) -> None:
        self.log.errors.append(f"{param}: {message}")
        await self.send({"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_value",
                                                    "message": message, "param": param, "event_id": event_id}})

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": {"id": self.next_id("sess"), "object": "realtime.session",
                                                                 "type": "realtime", "model": "gpt-realtime"}})
        async with anyio.create_task_group() as tg:
            self.tg = tg
            async for raw in self.ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    await self.invalid("", "not JSON")
                    continue
                self.log.received.append(msg)
                await self.on_message(msg)
            tg.cancel_scope.cancel()

    async def on_message(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind not in CLIENT_TYPES:
            return await self.invalid("type", f"Invalid value: '{kind}'")
        if kind == "session.update":
            return await self.on_session_update(msg)
        if kind == "input_audio_buffer.append":
            try:
                data = base64.b64decode(msg.get("audio", ""), validate=True)
            except (ValueError, binascii.Error):
                return await self.invalid("audio", "audio is not base64")
            return await self.on_audio(ulaw_decode(data) if self.pcmu else data)
        if kind == "response.create":
            problems = unknown_keys(msg.get("response", {}), RESPONSE_KEYS)
            if problems:
                return await self.invalid(f"response.{problems[0]}", "Unknown parameter")
            instructions = msg.get("response", {}).get("instructions", "")
            said = instructions.split(": ", 1)[-1] if instructions else "greeting"
            if instructions:
                self.log.agent_texts.append(said)
            hz, self.pending_hz = (self.pending_hz or GREETING_HZ) if not instructions else GREETING_HZ, None
            self.start_response(said, tone(hz, self.server.greeting_ms, self.rate))
        elif kind == "conversation.item.create":
            await self.on_item(msg)
        elif kind == "response.cancel":
            if self.response_scope is None:
                await self.send({"type": "error", "error": {"type": "invalid_request_error", "code": "response_cancel_not_active",
                                                            "message": "Cancellation failed: no active response found"}})
            else:
                self.response_scope.cancel()
        elif kind == "conversation.item.truncate":
            await self.on_truncate(msg)

    async def on_session_update(self, msg: dict) -> None:
        session = msg.get("session")
        problems = session_problems(session)
        if problems:
            return await self.invalid(problems[0], f"Unknown or invalid parameter: '{problems[0]}'.")
        self.log.session = session
        self.log.tools = [t["name"] for t in session.get("tools") or []]
        audio = session.get("audio", {})
        self.log.input_format = audio.get("input", {}).get("format")
        self.log.output_format = audio.get("output", {}).get("format")
        fmt = self.log.input_format or {"type": "audio/pcm"}
        self.pcmu = fmt["type"] == "audio/pcmu"
        self.rate = self.log.input_rate = 8000 if self.pcmu else 24000
        turn = audio.get("input", {}).get("turn_detection") or {}
        self.vad = TurnDetector(self.rate, turn.get("silence_duration_ms", 500))
        self.transcribe = bool(audio.get("input", {}).get("transcription"))
        await self.send({"type": "session.updated", "session": {"object": "realtime.session", **session}})

    async def on_item(self, msg: dict) -> None:
        item = msg.get("item")
        if not isinstance(item, dict):
            return await self.invalid("item", "item is required")
        if item.get("type") == "function_call_output":
            problems = unknown_keys(item, OUTPUT_ITEM_KEYS)
            if problems or item.get("call_id") not in self.log.calls_made or not isinstance(item.get("output"), str):
                return await self.invalid("item.call_id", f"bad function_call_output {item!r}")
            try:
                output = json.loads(item["output"])
            except ValueError:
                output = item["output"]
            self.log.tool_outputs.append((item["call_id"], output))
            self.pending_hz = AFTER_TOOL_HZ
        elif item.get("type") == "message" and item.get("role") == "user":
            content = item.get("content")
            if unknown_keys(item, MESSAGE_ITEM_KEYS) or not isinstance(content, list) or not content or content[0].get("type") != "input_text":
                return await self.invalid("item.content", "a user message needs input_text content")
            self.log.user_texts.append(str(content[0].get("text", "")))
            self.pending_hz = USER_TEXT_HZ
        else:
            return await self.invalid("item.type", f"unsupported item {item.get('type')!r}")
        await self.send({"type": "conversation.item.created", "previous_item_id": None, "item": {"object": "realtime.item", **item}})

    async def call_function(self, name: str, arguments: dict) -> None:
        rid, item, call_id = self.next_id("resp"), self.next_id("item"), self.next_id("call")
        args = json.dumps(arguments)
        fc = {"id": item, "object": "realtime.item", "type": "function_call", "status": "completed", "call_id": call_id,
              "name": name, "arguments": args}
        await self.send({"type": "response.created", "response": {"id": rid, "object": "realtime.response", "status": "in_progress"}})
        await self.send({"type": "response.output_item.added", "response_id": rid, "output_index": 0,
                         "item": {**fc, "status": "in_progress", "arguments": ""}})
        await self.send({"type": "response.function_call_arguments.delta", "response_id": rid, "item_id": item,
                         "output_index": 0, "call_id": call_id, "delta": args})
        self.log.calls_made[call_id] = name
        await self.send({"type": "response.function_call_arguments.done", "response_id": rid, "item_id": item,
                         "output_index": 0, "call_id": call_id, "name": name, "arguments": args})
        await self.send({"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": fc})
        await self.send({"type": "response.done", "response": {"id": rid, "object": "realtime.response", "status": "completed",
                                                               "output": [fc]}})

    async def on_truncate(self, msg: dict) -> None:
        problems = unknown_keys(msg, {"type", "event_id", "item_id", "content_index", "audio_end_ms"})
        item, end = msg.get("item_id"), msg.get("audio_end_ms")
        if problems or item not in self.items or msg.get("content_index") != 0 or not isinstance(end, int) or end < 0:
            return await self.invalid("item_id", f"cannot truncate {item!r}")
        if end > self.items[item]:
            return await self.invalid("audio_end_ms", f"audio_end_ms {end} is past the item's {self.items[item]} ms")
        self.log.cancelled += 1
        await self.send({"type": "conversation.item.truncated", "item_id": item, "content_index": 0, "audio_end_ms": end})

    async def on_audio(self, pcm: bytes) -> None:
        self.log.audio_in += len(pcm)
        change = self.vad.feed(pcm)
        item = "item_caller"
        if change == "start":
            await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": item})
            if self.response_scope is not None:
                self.response_scope.cancel()  # interrupt_response
        elif change == "stop":
            await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 0, "item_id": item})
            await self.send({"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": item})
            if self.transcribe:
                await self.send({"type": "conversation.item.input_audio_transcription.completed", "item_id": item,
                                 "content_index": 0, "transcript": f"{self.vad.speech_ms()} ms of speech"})
            step = next_tool_step(self.server, self.log)
            if step is not None:
                self.tg.start_soon(self.call_function, *step)
                return
            self.start_response("Here is what you said.", self.vad.speech())

    def start_response(self, text: str, pcm: bytes) -> None:
        if self.response_scope is not None:
            self.response_scope.cancel()
        self.response_scope = scope = anyio.CancelScope()
        self.tg.start_soon(self.respond, scope, text, pcm)

    async def respond(self, scope: anyio.CancelScope, text: str, pcm: bytes) -> None:
        rid, item = self.next_id("resp"), self.next_id("item")
        await self.send({"type": "response.created", "response": {"id": rid, "object": "realtime.response", "status": "in_progress"}})
        status = "cancelled"
        with scope:
            await self.send({"type": "response.output_item.added", "response_id": rid, "output_index": 0,
                             "item": {"id": item, "type": "message", "role": "assistant", "content": []}})
            self.items[item] = 0
            await self.send({"type": "response.output_audio_transcript.delta", "response_id": rid, "item_id": item,
                             "output_index": 0, "content_index": 0, "delta": text})
            for n, chunk in enumerate(chunks(pcm, self.rate, self.server.chunk_ms)):
                if self.server.chunk_interval_s:
                    await anyio.sleep(self.server.chunk_interval_s)
                if n == 0:
                    self.log.first_audio.append(anyio.current_time())
                wire = ulaw_encode(chunk) if self.pcmu else chunk
                self.items[item] += len(chunk) // 2 * 1000 // self.rate
                await self.send({"type": "response.output_audio.delta", "response_id": rid, "item_id": item,
                                 "output_index": 0, "content_index": 0, "delta": base64.b64encode(wire).decode()})
            await self.send({"type": "response.output_audio.done", "response_id": rid, "item_id": item,
                             "output_index": 0, "content_index": 0})
            status = "completed"
        if status == "cancelled":
            self.log.cancelled += 1
        if self.response_scope is scope:
            self.response_scope = None
        with anyio.CancelScope(shield=True):
            await self.send({"type": "response.done", "response": {"id": rid, "object": "realtime.response", "status": status}})
