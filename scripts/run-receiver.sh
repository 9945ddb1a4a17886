#!/usr/bin/env bash
# Installs what is missing, builds, and runs the sample receiver (PerfectParser deliveries on
# POST http://127.0.0.1:8080/webhooks/perfectparser) on its embedded default store: a SQLite
# inbox in .hookrx/hookrx.db (HOOKRX_DB to choose another file).
#
# The signing secret comes from HOOKRX_PP_SIGNING_SECRET, else from the file named by
# HOOKRX_PP_SIGNING_SECRET_FILE, else from .hookrx/perfectparser_signing_secret, which this script
# creates (mode 600) with a random secret on first run: paste its content into PerfectParser's
# webhook settings. The secret itself is never printed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh run
cmake -S . -B build-receiver -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DHOOKRX_TESTS=OFF -DHOOKRX_BENCH=OFF -DHOOKRX_INSTALL=OFF >/dev/null
cmake --build build-receiver --target httplib_receiver

if [ -z "${HOOKRX_PP_SIGNING_SECRET:-}" ] && [ -z "${HOOKRX_PP_SIGNING_SECRET_FILE:-}" ]; then
  secret_file=.hookrx/perfectparser_signing_secret
  if [ ! -s "$secret_file" ]; then
    mkdir -p .hookrx
    (umask 077 && printf 'wh_sec_%s' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$secret_file")
    echo "run-receiver: generated a signing secret in $secret_file (configure it in PerfectParser)"
  fi
  export HOOKRX_PP_SIGNING_SECRET_FILE=$PWD/$secret_file
fi
# The embedded default store: deliveries are kept here until handled.
mkdir -p .hookrx
export HOOKRX_DB=${HOOKRX_DB:-$PWD/.hookrx/hookrx.db}
exec build-receiver/examples/httplib_receiver
