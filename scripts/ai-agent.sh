#!/usr/bin/env bash
# `make doctor` / `make test-call`: run `ai-agent <command>` where the engine runs.
# With Docker: in a one-off ai-engine container (same env file, user, volumes and host network
# as the engine itself, so "writable by the engine" means what it says). Without Docker (make run):
# from .venv, with the env files and config/ai-engine.yaml as scripts/run-local.sh uses them.
# AI_AGENT_LOCAL=1 forces the second way.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${AI_AGENT_LOCAL:-0}" != 1 ] && docker compose version >/dev/null 2>&1 && [ -f ai-engine.env ]; then
  exec docker compose run --rm --no-deps --entrypoint ai-agent ai-engine "$@"
fi
for f in .env ai-engine.env; do
  if [ -f "$f" ]; then set -a; . "./$f"; set +a; fi
done
export AI_ENGINE_CONFIG="${AI_ENGINE_CONFIG:-config/ai-engine.yaml}"
exec .venv/bin/python -m ai_engine.admin.cli "$@"
