"""Small helpers for structured concurrency: the shared exception-group reading
(`voice_common.errors`), imported under the engine's name."""

from __future__ import annotations

from voice_common.errors import innermost, leaves, single_error

__all__ = ["innermost", "leaves", "single_error"]
