"""A strict fake of an OpenAI-compatible streaming chat-completions endpoint (what vLLM, Ollama and
llama.cpp's llama-server serve at `POST /v1/chat/completions`), on a loopback port.

Strict: a request body with a field outside OpenAI's documented chat-completions request, a
message that is not `{role, content}` with a known role and string content, `stream` not true, the
wrong model, or a missing/wrong bearer key is answered 400/401 and recorded in `errors`. A good
request is answered as Server-Sent Events: `data: {chunk}` per piece (`choices[0].delta.content`,
the first chunk carries `delta.role`), a final chunk with `finish_reason`, then `data: [DONE]`.

Knobs: `pieces` (the reply), `piece_interval_s` (a slow stream), `hang_after` (stop sending after
that many pieces and hold the connection), `status` (answer an HTTP error), `raw_lines` (send these
lines instead). `disconnects` counts streams the client closed before their end (cancellation).
"""

from __future__ import annotations

import json
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

# OpenAI chat-completions request fields (API reference, "Create chat completion").
KNOWN_FIELDS = {
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
    "top_p", "n", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "seed", "user", "tools", "tool_choice", "parallel_tool_calls", "response_format",
}
ROLES = {"system", "developer", "user", "assistant", "tool"}


@dataclass
class FakeChatCompletions:
    model: str = "test-model"
    key: str | None = None
    pieces: list[str] = field(default_factory=lambda: ["We open ", "at 9 am", "."])
    piece_interval_s: float = 0.0
    hang_after: int | None = None
    status: int = 200
    raw_lines: list[str] | None = None
    requests: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    disconnects: int = 0
    completed: int = 0
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _check(self, request: Request, body: object) -> str | None:
        if self.key is not None and request.headers.get("authorization") != f"Bearer {self.key}":
            return "401 missing or wrong bearer key"
        if not isinstance(body, dict):
            return "400 body is not a JSON object"
        unknown = set(body) - KNOWN_FIELDS
        if unknown:
            return f"400 unknown fields {sorted(unknown)}"
        if body.get("model") != self.model:
            return f"400 model {body.get('model')!r} is not served"
        if body.get("stream") is not True:
            return "400 stream must be true"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "400 messages must be a non-empty list"
        for m in messages:
            if not isinstance(m, dict) or set(m) - {"role", "content", "name"} or m.get("role") not in ROLES \
                    or not isinstance(m.get("content"), str):
                return f"400 bad message {m!r}"
        if "max_tokens" in body and (not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1):
            return "400 max_tokens must be a positive integer"
        return None

    async def _completions(self, request: Request):
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        problem = self._check(request, body)
        if problem is not None:
            self.errors.append(problem)
            code = int(problem[:3])
            return JSONResponse({"error": {"message": problem[4:], "type": "invalid_request_error"}}, status_code=code)
        self.requests.append(body)
        if self.status != 200:
            return JSONResponse({"error": {"message": "overloaded", "type": "server_error"}}, status_code=self.status)
        return StreamingResponse(self._events(), media_type="text/event-stream")

    def _chunk(self, delta: dict, finish: str | None = None) -> str:
        chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": self.model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk)}\n\n"

    async def _events(self):
        finished = False
        try:
            if self.raw_lines is not None:
                for line in self.raw_lines:
                    yield line + "\n"
                finished = True
                return
            yield self._chunk({"role": "assistant", "content": ""})
            for i, piece in enumerate(self.pieces):
                if self.hang_after is not None and i >= self.hang_after:
                    await anyio.sleep_forever()
                if self.piece_interval_s:
                    await anyio.sleep(self.piece_interval_s)
                yield self._chunk({"content": piece})
            yield self._chunk({}, "stop")
            yield "data: [DONE]\n\n"
            finished = True
            self.completed += 1
        finally:
            if not finished:
                self.disconnects += 1

    @asynccontextmanager
    async def running(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])
        server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            while not server.started:
                await anyio.sleep(0.01)
            try:
                yield self
            finally:
                server.should_exit = True
                server.force_exit = True
