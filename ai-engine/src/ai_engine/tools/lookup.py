"""The built-in `lookup` tool: an HTTP POST to the persona's lookup URL with the caller's number
and the model's arguments; the JSON object it answers is given to the model. The same request
runs once before the greeting when `lookup.before_greeting` is set (`prefetch`), so the greeting
can say `{caller_name}`.

Bounded: `timeout_s` on the whole request, `max_response_bytes` on the answer (read as a stream,
stopped past the bound), only a JSON object is accepted, nested values are kept as they are.
"""

from __future__ import annotations

import json
import string

import httpx

from .base import CallActions, ToolFailed, ToolOutcome, ToolSpec
from .settings import LookupSettings


class LookupTool:
    def __init__(self, settings: LookupSettings, transport: httpx.AsyncBaseTransport | None = None):
        if not settings.url:
            raise ValueError("the lookup tool needs lookup.url")
        self.settings = settings
        self._transport = transport
        self.spec = ToolSpec("lookup", settings.description, settings.parameters)

    async def run(self, arguments: dict, ctx: CallActions) -> ToolOutcome:
        return ToolOutcome(await self.fetch(ctx.caller_number, arguments, ctx.call_id))

    async def fetch(self, caller_number: str, arguments: dict, call_id: str) -> dict:
        s = self.settings
        body = {"caller_number": caller_number, "call_id": call_id, "arguments": arguments}
        try:
            async with httpx.AsyncClient(timeout=s.timeout_s, transport=self._transport) as client:
                async with client.stream("POST", str(s.url), json=body) as response:
                    if response.status_code != 200:
                        raise ToolFailed(f"the lookup service answered HTTP {response.status_code}")
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > s.max_response_bytes:
                            raise ToolFailed("the lookup answer is too large")
        except httpx.TimeoutException:
            raise ToolFailed(f"the lookup service did not answer within {s.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise ToolFailed(f"the lookup service cannot be reached ({type(exc).__name__})") from None
        try:
            value = json.loads(bytes(data))
        except ValueError:
            raise ToolFailed("the lookup answer is not JSON") from None
        if not isinstance(value, dict):
            raise ToolFailed("the lookup answer is not a JSON object")
        return value


def fill(template: str, fields: dict) -> str:
    """`{name}` placeholders of a greeting or instructions filled from lookup fields; unknown
    placeholders become empty, and a template that is not a valid format string is kept as is."""

    class _Blank(dict):
        def __missing__(self, key: str) -> str:
            return ""

    flat = {k: v for k, v in fields.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    try:
        return string.Formatter().vformat(template, (), _Blank(flat))
    except (ValueError, IndexError, AttributeError, KeyError):
        return template
