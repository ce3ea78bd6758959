#!/usr/bin/env bash
# Start the fragstore S3 server, configured by environment variables.
#
#   docker/start.sh [EXTRA serve ARGS ...]    exec `fragstore serve` (the container's entrypoint)
#   docker/start.sh health                   exit 0 when the running server answers its
#                                            health check (the container's HEALTHCHECK)
#
# The container image runs this as its entrypoint; CI runs it outside any
# container (tests/docker/test_container_recipe.py).
#
# Environment (defaults are the container's):
#   FRAGSTORE_DATA        data directory                        (/data)
#   FRAGSTORE_HOST        address to listen on                  (0.0.0.0)
#   FRAGSTORE_PORT        port to listen on                     (9000)
#   FRAGSTORE_ACCESS_KEY  root key pair, saved into the data directory on the first
#   FRAGSTORE_SECRET_KEY  start (unset: generated there and printed once); later
#                         starts take it from there and refuse a different pair
#   FRAGSTORE_REGION      region clients sign for               (server default: us-east-1)
#   FRAGSTORE_DOMAIN      root domain for virtual-hosted-style requests (unset: path style)
#   FRAGSTORE_USERS       file of access_key:secret lines, more users (unset: none)
#   FRAGSTORE_LOG_LEVEL   uvicorn log level                     (info)
#   FRAGSTORE_VENV        venv holding fragstore (unset: `fragstore` and `python3` from PATH)
#
# The server is exec'd, so it receives SIGTERM itself and shuts down cleanly.
set -euo pipefail

data=${FRAGSTORE_DATA:-/data}
host=${FRAGSTORE_HOST:-0.0.0.0}
port=${FRAGSTORE_PORT:-9000}
bin=${FRAGSTORE_VENV:+$FRAGSTORE_VENV/bin/}

if [ "${1:-}" = health ]; then
  case "$host" in
    0.0.0.0 | "") probe=127.0.0.1 ;;
    :: | "[::]") probe="[::1]" ;;
    *:*) probe="[$host]" ;;
    *) probe=$host ;;
  esac
  # One line and exit 1 on a refused connection, a timeout or a non-200 answer.
  exec "${bin}python3" -c 'import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as answer:
        status = answer.status
except Exception as exc:
    sys.exit(f"unhealthy: {exc}")
sys.exit(0 if status == 200 else f"unhealthy: HTTP {status}")' \
    "http://$probe:$port/_fragstore/health" 4
fi

args=(serve --data "$data" --host "$host" --port "$port" --log-level "${FRAGSTORE_LOG_LEVEL:-info}")
if [ -n "${FRAGSTORE_REGION:-}" ]; then args+=(--region "$FRAGSTORE_REGION"); fi
if [ -n "${FRAGSTORE_DOMAIN:-}" ]; then args+=(--domain "$FRAGSTORE_DOMAIN"); fi
if [ -n "${FRAGSTORE_USERS:-}" ]; then args+=(--users "$FRAGSTORE_USERS"); fi

exec "${bin}fragstore" "${args[@]}" "$@"
