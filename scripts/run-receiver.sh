#!/usr/bin/env bash
# Installs what is missing, builds the hookrx binary, and runs `hookrx serve` on its embedded
# default: a SQLite inbox (hookrx.db) and a JSONL sink (events.jsonl, one fsynced line per event)
# in .hookrx/, its working directory. PerfectParser deliveries go to
# POST http://127.0.0.1:8080/webhooks/perfectparser; GET /healthz and GET /metrics answer too.
#
# The signing secret comes from HOOKRX_PP_SIGNING_SECRETS or HOOKRX_PP_SIGNING_SECRETS_FILE, else
# from .hookrx/perfectparser_signing_secret, which this script creates (mode 600) with a random
# secret on first run: paste its content into PerfectParser's webhook settings. The secret itself
# is never printed. Extra arguments go to `hookrx serve` (e.g. --listen 127.0.0.1:9000, --exec CMD).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh run
cmake -S . -B build-receiver -G Ninja -DCMAKE_BUILD_TYPE=Release -DHOOKRX_CLI=ON \
  -DHOOKRX_TESTS=OFF -DHOOKRX_BENCH=OFF -DHOOKRX_EXAMPLES=OFF -DHOOKRX_FUZZ=OFF -DHOOKRX_INSTALL=OFF >/dev/null
cmake --build build-receiver --target hookrx_cli

mkdir -p .hookrx
if [ -z "${HOOKRX_PP_SIGNING_SECRETS:-}" ] && [ -z "${HOOKRX_PP_SIGNING_SECRETS_FILE:-}" ]; then
  secret_file=.hookrx/perfectparser_signing_secret
  if [ ! -s "$secret_file" ]; then
    (umask 077 && printf 'wh_sec_%s' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$secret_file")
    echo "run-receiver: generated a signing secret in $secret_file (configure it in PerfectParser)"
  fi
  export HOOKRX_PP_SIGNING_SECRETS_FILE=$PWD/$secret_file
fi
cd .hookrx
exec ../build-receiver/cli/hookrx serve --jsonl events.jsonl "$@"
