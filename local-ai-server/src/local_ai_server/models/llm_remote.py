"""Language model on another machine: any OpenAI-compatible streaming chat-completions endpoint
(vLLM, Ollama, llama.cpp's `llama-server`), selected by `llm.backend: openai_compatible`.

Wire format (OpenAI's chat-completions API, which those servers implement): `POST
{base_url}/chat/completions` with `{"model", "messages", "stream": true, "max_tokens",
"temperature", "top_p"}` and `Authorization: Bearer <api_key>` when a key is set; the answer is
Server-Sent Events, one `data: {json}` line per event, each chunk's text in
`choices[0].delta.content`, and the stream ends with `data: [DONE]`.

Bounded: connecting and every read wait at most `llm.request_timeout_s`, the whole answer at most
`llm.response_timeout_s`, and a stream larger than `llm.max_response_bytes` (or one SSE line over
64 KiB) is cut. Cancellable: `astream` is an async generator on httpx; cancelling its consumer
closes the HTTP response (the server stops generating when the connection goes). Not a CPU job:
the runtime awaits it directly instead of stepping it in a worker thread (`AsyncLanguageModel`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import structlog

from ..config import LlmSettings

log = structlog.get_logger("local_ai_server.models")

MAX_LINE_BYTES = 64 * 1024


class RemoteLLMError(RuntimeError):
    """The remote endpoint failed, answered something that is not a chat-completions stream, or
    went past a bound. The response fails; the session goes on."""


def parse_sse_line(line: str) -> str | None:
    """The text of one SSE line of a chat-completions stream ("" for a line without text), or None
    at `[DONE]`. Raises RemoteLLMError on a chunk that is not the documented shape."""
    if not line.startswith("data:"):
        return ""  # blank separators, `: keep-alive` comments, `event:`/`id:` fields
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        chunk = json.loads(data)
    except ValueError:
        raise RemoteLLMError(f"not JSON in the event stream: {data[:80]!r}") from None
    if not isinstance(chunk, dict):
        raise RemoteLLMError("an event that is not a JSON object")
    if "error" in chunk:
        error = chunk["error"]
        raise RemoteLLMError(f"the endpoint reported: {error.get('message', error) if isinstance(error, dict) else error}")
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise RemoteLLMError("a chunk without choices")
    if not choices:
        return ""  # a usage-only chunk
    delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
    if not isinstance(delta, dict):
        raise RemoteLLMError("a choice without delta")
    content = delta.get("content")
    return content if isinstance(content, str) else ""


class RemoteLLM:
    """`slots` requests at once (`llm.remote_max_concurrent`); the endpoint batches them."""

    def __init__(self, settings: LlmSettings, api_key: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not settings.base_url or not settings.model:
            raise ValueError("llm.backend openai_compatible needs llm.base_url and llm.model")
        self.settings = settings
        self.path = f"{settings.base_url.rstrip('/')}/chat/completions"
        self._headers = {"Accept": "text/event-stream"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._transport = transport

    @property
    def slots(self) -> int:
        return self.settings.remote_max_concurrent

    def _client(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(self.settings.request_timeout_s)
        return httpx.AsyncClient(timeout=timeout, transport=self._transport, follow_redirects=False)

    def _body(self, messages: list[dict], max_tokens: int) -> dict:
        s = self.settings
        return {"model": s.model, "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
                "stream": True, "max_tokens": max_tokens, "temperature": s.temperature, "top_p": s.top_p}

    async def astream(self, messages: list[dict], *, max_tokens: int, prefix: str = "",
                      schema: dict | None = None) -> AsyncIterator[str]:
        """Text pieces of the answer, as they arrive. Tool decisions (`prefix`, `schema`) are not
        implemented for a remote model yet: that response fails with the reason."""
        if prefix or schema:
            raise RemoteLLMError("tool calls (a reply prefix or a JSON schema) need llm.backend local for now")
        received = 0
        try:
            with anyio.fail_after(self.settings.response_timeout_s):
                async with self._client() as client, client.stream(
                        "POST", self.path, json=self._body(messages, max_tokens), headers=self._headers) as response:
                    if response.status_code != 200:
                        body = (await response.aread())[:200].decode("utf-8", "replace")
                        raise RemoteLLMError(f"HTTP {response.status_code} from {self.path}: {body}")
                    async for line in response.aiter_lines():
                        received += len(line) + 1
                        if received > self.settings.max_response_bytes or len(line) > MAX_LINE_BYTES:
                            raise RemoteLLMError(f"the answer passed {self.settings.max_response_bytes} bytes")
                        text = parse_sse_line(line)
                        if text is None:
                            return
                        if text:
                            yield text
        except TimeoutError:
            raise RemoteLLMError(f"no whole answer within {self.settings.response_timeout_s} s") from None
        except httpx.HTTPError as exc:
            raise RemoteLLMError(f"{type(exc).__name__} from {self.path}: {exc}") from None

    # --- the blocking LanguageModel interface (bench, tools): one event loop per call ------------

    def stream(self, slot: int, messages: list[dict], *, max_tokens: int, prefix: str = "",
               schema: dict | None = None) -> Iterator[str]:
        async def collect() -> list[str]:
            return [piece async for piece in self.astream(messages, max_tokens=max_tokens, prefix=prefix,
                                                          schema=schema)]

        yield from anyio.run(collect)

    def choose(self, slot: int, messages: list[dict], options: list[str]) -> str:
        raise RemoteLLMError("tool decisions need llm.backend local for now")

    def prefill(self, slot: int, messages: list[dict]) -> None:
        """Nothing to do here: vLLM's and llama-server's prefix caches keep the shared prompt prefix."""

    def warm_up(self) -> None:
        """One tiny request, so a wrong URL, model or key shows in the log at start; the server still
        starts (the remote host may come up later; each failed response says why)."""
        try:
            for _ in self.stream(0, [{"role": "user", "content": "Hi"}], max_tokens=1):
                pass
        except RemoteLLMError as exc:
            log.warning("llm.remote_unreachable", url=self.path, error=str(exc))
