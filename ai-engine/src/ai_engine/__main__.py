"""`ai-engine` / `python -m ai_engine`: load settings, set up logging, run until a signal."""

from __future__ import annotations

import sys

import anyio
from pydantic import ValidationError

from .app import serve
from .config import load_settings
from .observability.logs import get_logger, setup_logging


def main() -> int:
    try:
        settings = load_settings()
        settings.check_ready_to_run()
    except (ValidationError, ValueError, FileNotFoundError) as exc:
        setup_logging()
        get_logger("ai_engine").error("config.invalid", error=str(exc))
        return 2
    setup_logging(settings.log.level, settings.log.format)
    anyio.run(serve, settings, backend_options=_backend_options())
    return 0


def _backend_options() -> dict:
    """uvloop when it is installed (it is pinned in requirements.txt): the same asyncio, with a
    receive path several times cheaper per AudioSocket frame (bench/media_load.py)."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return {}
    return {"use_uvloop": True}


if __name__ == "__main__":
    sys.exit(main())
