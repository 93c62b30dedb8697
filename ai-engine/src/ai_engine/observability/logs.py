"""Structured logging: one line per event, with the call id bound from context.

`structlog` renders JSON lines (or console lines); records from libraries that use the
standard `logging` module go through the same renderer. Loggers that would print secrets
(httpx prints request URLs, asyncswagger11 prints query strings) are kept at WARNING.
"""

from __future__ import annotations

import logging
import sys

import structlog

# Libraries whose INFO/DEBUG lines may carry URLs with credentials or are too chatty.
_QUIET_LOGGERS = ("httpx", "httpcore", "asyncari", "asyncswagger11", "asyncwebsockets", "websockets", "uvicorn.access")


def setup_logging(level: str = "INFO", fmt: str = "json") -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


bind_call = structlog.contextvars.bound_contextvars
