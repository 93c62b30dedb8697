"""Reading typed fields out of decoded JSON, with a `ProtocolError` that names the field."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from .errors import ProtocolError

UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET", "__bool__": lambda self: False})()
"""A field the peer did not send (distinct from an explicit null)."""

MAX_TEXT_CHARS = 32_768  # one item's text, instructions, a tool's description or arguments


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def fail(code: str, message: str, param: str | None) -> ProtocolError:
    return ProtocolError(code, message, param=param)


def obj(value: Any, param: str, code: str = "invalid_event") -> dict:
    if not isinstance(value, dict):
        raise fail(code, f"{param} must be an object", param)
    return value


def text(value: Any, param: str, code: str = "invalid_event", *, max_chars: int = MAX_TEXT_CHARS,
         optional: bool = False) -> str | None:
    """A string of at most `max_chars` that is valid Unicode (a lone surrogate such as "\\ud800" is
    refused: it cannot be encoded and would break every later use of the text)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise fail(code, f"{param} must be a string", param)
    if len(value) > max_chars:
        raise fail(code, f"{param} has {len(value)} characters, more than the {max_chars} allowed", param)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise fail(code, f"{param} is not valid Unicode (lone surrogate)", param) from None
    return value


def integer(value: Any, param: str, lo: int, hi: int, code: str = "invalid_event") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise fail(code, f"{param} must be an integer in [{lo}, {hi}]", param)
    return value


def number(value: Any, param: str, lo: float, hi: float, code: str = "invalid_event") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise fail(code, f"{param} must be a number in [{lo}, {hi}]", param)
    return float(value)


def boolean(value: Any, param: str, code: str = "invalid_event") -> bool:
    if not isinstance(value, bool):
        raise fail(code, f"{param} must be true or false", param)
    return value


def b64decode(value: Any, param: str, code: str = "invalid_audio") -> bytes:
    if not isinstance(value, str):
        raise fail(code, f"{param} must be a base64 string", param)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise fail(code, f"{param} is not valid base64", param) from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def drop_unset(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v is not UNSET}
