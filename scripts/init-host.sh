#!/usr/bin/env bash
# One-time (and re-runnable) host setup for the compose install, run as root on the Asterisk host:
#   sudo scripts/init-host.sh
# - checks Docker Compose v2;
# - creates the media folder where Asterisk looks (AI_MEDIA_HOST_DIR, default
#   /var/lib/asterisk/sounds/ai-generated), owned by the asterisk user, and writes that user's
#   uid/gid into .env so the engine writes files Asterisk can read;
# - creates ai-engine.env and local-ai-server.env (mode 600) from their examples and fills in what
#   is empty: one generated token, the same in both files, and a generated ARI password, printed
#   once for the FreePBX ARI user page (or ari.conf); a generated token for the /calls API;
# - creates the call-records folder (AI_DATA_HOST_DIR).
# It never overwrites a value that is already set.
#
# For tests: ROOT_DIR (repository), ASTERISK_USER, SKIP_COMPOSE_CHECK=1, SKIP_CHOWN=1.
set -euo pipefail
ROOT_DIR="${ROOT_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$ROOT_DIR"
ASTERISK_USER="${ASTERISK_USER:-asterisk}"

say() { printf '%s\n' "$*"; }
die() { printf 'init-host: %s\n' "$*" >&2; exit 1; }
secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# value KEY FILE: the value of KEY= in FILE (empty when missing)
value() { [ -f "$2" ] && sed -n "s/^$1=//p" "$2" | tail -n1 || true; }
# set_if_empty KEY VALUE FILE
set_if_empty() {
  local key=$1 val=$2 file=$3
  if grep -q "^$key=" "$file"; then
    if [ -z "$(value "$key" "$file")" ]; then sed -i "s|^$key=.*|$key=$val|" "$file"; fi
  else
    printf '%s=%s\n' "$key" "$val" >>"$file"
  fi
}

if [ "${SKIP_COMPOSE_CHECK:-0}" != 1 ]; then
  docker compose version >/dev/null 2>&1 || die "Docker Compose v2 is missing ('docker compose version' fails). Install Docker's
  docker-ce and docker-compose-plugin packages (https://docs.docker.com/engine/install/debian/);
  Debian's own docker-compose (v1) cannot read this compose file."
fi

id "$ASTERISK_USER" >/dev/null 2>&1 || die "no user '$ASTERISK_USER' (set ASTERISK_USER to the user Asterisk runs as)"
uid=$(id -u "$ASTERISK_USER"); gid=$(id -g "$ASTERISK_USER")

[ -f .env ] || cp .env.example .env
sed -i "s|^MEDIA_UID=.*|MEDIA_UID=$uid|; s|^MEDIA_GID=.*|MEDIA_GID=$gid|" .env
# The image tag follows the checked-out release (after a git pull too).
version=$(value AI_AGENT_VERSION .env.example)
if grep -q '^AI_AGENT_VERSION=' .env; then sed -i "s|^AI_AGENT_VERSION=.*|AI_AGENT_VERSION=$version|" .env
else printf 'AI_AGENT_VERSION=%s\n' "$version" >>.env; fi
media_dir=$(value AI_MEDIA_HOST_DIR .env)
media_dir=${media_dir:-/var/lib/asterisk/sounds/ai-generated}
case "$media_dir" in
  /root/*|/root) die "AI_MEDIA_HOST_DIR=$media_dir is under /root (mode 700): Asterisk could not read it" ;;
  /*) ;;
  *) media_dir="$ROOT_DIR/${media_dir#./}" ;;
esac
mkdir -p "$media_dir"
if [ "${SKIP_CHOWN:-0}" != 1 ]; then chown "$uid:$gid" "$media_dir"; fi
chmod 0750 "$media_dir"
say "media folder: $media_dir (owner $ASTERISK_USER, uid $uid gid $gid)"
# Call records: the SQLite database folder (personal data: owner only), written by the engine as
# the asterisk user; recordings are read from Asterisk's own folder.
data_dir=$(value AI_DATA_HOST_DIR .env)
data_dir=${data_dir:-./data}
case "$data_dir" in /*) ;; *) data_dir="$ROOT_DIR/${data_dir#./}" ;; esac
mkdir -p "$data_dir"
if [ "${SKIP_CHOWN:-0}" != 1 ]; then chown "$uid:$gid" "$data_dir"; fi
chmod 0700 "$data_dir"
recordings_dir=$(value AI_RECORDINGS_HOST_DIR .env)
recordings_dir=${recordings_dir:-/var/spool/asterisk/recording}
case "$recordings_dir" in /*) ;; *) recordings_dir="$ROOT_DIR/${recordings_dir#./}" ;; esac
say "call records: $data_dir; recordings (personas.<name>.record): $recordings_dir"
[ -d "$recordings_dir" ] || say "note: $recordings_dir does not exist yet; Asterisk creates it with its first recording."
case "$ROOT_DIR" in /root/*) say "note: this clone is under /root; that is fine now (no media files live here), but /opt is the usual place." ;; esac

umask 077
for f in ai-engine.env local-ai-server.env; do
  [ -f "$f" ] || cp "$f.example" "$f"
  chmod 600 "$f"
done

token=$(value LOCAL_AI_AUTH_TOKEN local-ai-server.env)
[ -n "$token" ] || token=$(value AI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN ai-engine.env)
[ -n "$token" ] || token=$(secret)
set_if_empty LOCAL_AI_AUTH_TOKEN "$token" local-ai-server.env
set_if_empty AI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN "$token" ai-engine.env
[ "$(value LOCAL_AI_AUTH_TOKEN local-ai-server.env)" = "$(value AI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN ai-engine.env)" ] \
  || die "LOCAL_AI_AUTH_TOKEN (local-ai-server.env) and AI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN (ai-engine.env) differ: make them equal"

# The admin API token (/calls, call records: personal data), the engine's own; printed once.
if [ -z "$(value AI_ENGINE_API__TOKEN ai-engine.env)" ]; then
  api_token=$(secret)
  set_if_empty AI_ENGINE_API__TOKEN "$api_token" ai-engine.env
  say "API token generated (in ai-engine.env): curl -H 'Authorization: Bearer <token>' 127.0.0.1:15000/calls"
  say "  $api_token"
fi

if [ -z "$(value AI_ENGINE_ARI__PASSWORD ai-engine.env)" ]; then
  password=$(secret)
  set_if_empty AI_ENGINE_ARI__PASSWORD "$password" ai-engine.env
  say "ARI password generated (in ai-engine.env). Give the ARI user 'ai-agent' this password:"
  say "  FreePBX: Settings > Asterisk REST Interface Users > Add User (name ai-agent, password below), Submit, Apply Config"
  say "  plain Asterisk: password = ... in the [ai-agent] section of ari.conf, then asterisk -rx 'module reload res_ari.so'"
  say "  $password"
fi
say "done. Next: docker compose up -d --build, then make doctor"
