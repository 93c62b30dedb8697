"""`local-ai-server` / `python -m local_ai_server`: load the settings, then serve."""

from __future__ import annotations

import argparse
import sys

import structlog
from voice_common.logs import configure_logging

from .config import load_settings
from .runtime import Runtime
from .server import make_uvicorn_server

log = structlog.get_logger("local_ai_server")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local-ai-server", description=__doc__)
    parser.add_argument("--config", help="YAML settings file (default: $LOCAL_AI_CONFIG)")
    parser.add_argument("--host", help="bind address (server.host)")
    parser.add_argument("--port", type=int, help="port (server.port)")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    if args.host or args.port is not None:
        server_settings = settings.server.model_copy(
            update={k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        )
        settings = settings.model_copy(update={"server": server_settings})
    configure_logging(settings.server.log_level)
    if settings.auth_token is None and not settings.server.allow_no_auth:
        log.error("server.no_auth_token", message="set LOCAL_AI_AUTH_TOKEN (the engine's provider sends the same "
                  "value), or set server.allow_no_auth: true to serve without one (loopback development only)")
        return 2
    if settings.auth_token is None:
        log.warning("server.auth_disabled", host=settings.server.host)
    log.info("server.starting", host=settings.server.host, port=settings.server.port,
             auth=settings.auth_token is not None, cpu_jobs=settings.cpu_jobs,
             stt=str(settings.stt.model_path or "bundled"), llm=str(settings.llm.model_path or "bundled"),
             tts=str(settings.tts.model_path or "bundled"))
    runtime = Runtime(settings)
    make_uvicorn_server(runtime).run()
    if runtime.load_error:
        log.error("server.exit", reason=runtime.load_error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
