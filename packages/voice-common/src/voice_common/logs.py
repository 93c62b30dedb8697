"""Structured logs for both services: one line per event on stdout, JSON (or console text).

`structlog` loggers and the standard `logging` loggers of libraries go through the same chain
and renderer, so every line has the same shape. Exceptions render as a text traceback in an
`exception` field (never `<traceback object at ...>`). Loggers that print URLs with credentials
(httpx prints request URLs, asyncswagger11 query strings) or that are chatty stay at WARNING.
Per-call (or per-session) fields such as `call_id` are bound with `bind_call` and appear on every
line logged inside it, by either kind of logger.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any, Literal

import structlog

QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "asyncari",
    "asyncswagger11",
    "asyncwebsockets",
    "websockets",
    "uvicorn.access",
)
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def level_number(level: str | int) -> int:
    """`"info"`, `"INFO"` or `logging.INFO` -> 20. Raises ValueError for an unknown name."""
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.strip().upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number


def configure_logging(
    level: str | int = "info", fmt: Literal["json", "console"] = "json", quiet: Iterable[str] = QUIET_LOGGERS, stream=None
) -> None:
    """Set up structlog and the root logger (idempotent: later calls replace earlier ones)."""
    numeric = level_number(level)
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in _UVICORN:  # uvicorn installs its own handlers: send its records through ours
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for name in quiet:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


def bind_call(call_id: str | None = None, **fields: Any) -> AbstractContextManager[Any]:
    """Within the `with` block (and in tasks started in it), every log line carries `call_id`
    (and `fields`, e.g. the provider's `session_id`)."""
    if call_id is not None:
        fields["call_id"] = call_id
    return structlog.contextvars.bound_contextvars(**fields)
