#!/usr/bin/env bash
# `make run`: both services as local processes, with the same config as docker compose
# (.env for secrets, config/ai-engine.yaml, local-ai-server/config/local-ai-server.yaml).
# Everything binds to 127.0.0.1 unless the config says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

if [ -f .env ]; then set -a; . ./.env; set +a; fi
if [ -z "${AI_ENGINE_ARI__PASSWORD:-}" ]; then
  echo "AI_ENGINE_ARI__PASSWORD is not set: cp .env.example .env and fill it in (see README)" >&2
  exit 2
fi
export AI_ENGINE_CONFIG="${AI_ENGINE_CONFIG:-config/ai-engine.yaml}"
export LOCAL_AI_CONFIG="${LOCAL_AI_CONFIG:-local-ai-server/config/local-ai-server.yaml}"
mkdir -p "${AI_ENGINE_PLAYBACK__MEDIA_DIR:-shared-media}"
# No token in .env: serve without one, as an explicit choice (everything here binds to loopback).
if [ -z "${LOCAL_AI_AUTH_TOKEN:-}" ]; then export LOCAL_AI_SERVER__ALLOW_NO_AUTH="${LOCAL_AI_SERVER__ALLOW_NO_AUTH:-true}"; fi

"$BIN/local-ai-server" &
server_pid=$!
trap 'kill -TERM "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT INT TERM

# Wait for the models to load (the engine's /health reports providers as not ready until then).
health="http://127.0.0.1:${LOCAL_AI_SERVER__PORT:-8765}/health"
for _ in $(seq 1 180); do
  if "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen('$health', timeout=1)" 2>/dev/null; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { echo "local-ai-server exited" >&2; exit 1; }
  sleep 1
done

"$BIN/ai-engine"
