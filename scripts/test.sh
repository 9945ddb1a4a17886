#!/usr/bin/env bash
# Installs what is missing, builds everything, and runs every test (unit, conformance vectors,
# adapters against real servers, the installed-package consumer).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
