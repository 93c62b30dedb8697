"""The engine's logging is the shared setup (`voice_common.logs`): one JSON line per event, the
call id bound with `bind_call`, tracebacks as text, credential-printing libraries kept quiet."""

from __future__ import annotations

from voice_common.logs import bind_call, configure_logging, get_logger

setup_logging = configure_logging

__all__ = ["bind_call", "configure_logging", "get_logger", "setup_logging"]
