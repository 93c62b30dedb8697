#!/usr/bin/env bash
# `make run`: both services as local processes, with the same config as docker compose
# (ai-engine.env and local-ai-server.env for secrets, config/ai-engine.yaml,
# local-ai-server/config/local-ai-server.yaml).
# Everything binds to 127.0.0.1 unless the config says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

for f in .env ai-engine.env local-ai-server.env; do
  if [ -f "$f" ]; then set -a; . "./$f"; set +a; fi
done
if [ -z "${AI_ENGINE_ARI__PASSWORD:-}" ]; then
  echo "AI_ENGINE_ARI__PASSWORD is not set: cp ai-engine.env.example ai-engine.env and fill it in (see README)" >&2
  exit 2
fi
# local-ai-server wants a token. Without one configured, both processes get the same token made
# up for this run. `make run NO_AUTH=1` serves without one instead (loopback only, an explicit choice).
if [ "${NO_AUTH:-0}" = 1 ]; then
  export LOCAL_AI_SERVER__ALLOW_NO_AUTH=true LOCAL_AI_AUTH_TOKEN= AI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN=
elif [ -z "${LOCAL_AI_AUTH_TOKEN:-}" ]; then
  LOCAL_AI_AUTH_TOKEN="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  export LOCAL_AI_AUTH_TOKEN AI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN="$LOCAL_AI_AUTH_TOKEN"
fi
export AI_ENGINE_CONFIG="${AI_ENGINE_CONFIG:-config/ai-engine.yaml}"
export LOCAL_AI_CONFIG="${LOCAL_AI_CONFIG:-local-ai-server/config/local-ai-server.yaml}"
mkdir -p "${AI_ENGINE_PLAYBACK__MEDIA_DIR:-shared-media}"

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
