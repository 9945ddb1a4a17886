#!/usr/bin/env bash
# Installs the Debian 12 packages hookrx needs, skipping those already installed.
#
#   scripts/deps.sh run    what building and running the sample receiver needs
#   scripts/deps.sh test   run + everything the test suite builds, links or starts
#   scripts/deps.sh ci     test + what CI adds (clang, clang-format, clang-tidy)
#   scripts/deps.sh bench  test + wrk, for bench/wrk/run.sh
#
# As root it installs with apt-get; as anyone else it prints the command to run and fails.
set -euo pipefail

profile=${1:-test}

run_pkgs=(g++ cmake ninja-build pkg-config libssl-dev libsimdjson-dev
          libcpp-httplib-dev libsqlite3-dev libboost-dev libcli11-dev libtomlplusplus-dev libjemalloc-dev)
test_pkgs=(doctest-dev libpistache-dev libcivetweb-dev civetweb
           libpq-dev libhiredis-dev postgresql redis-server libbenchmark-dev
           valgrind dpkg-dev file openssl)  # valgrind: tests/ct; the .deb test (cpack, dpkg-shlibdeps) and `sign` vs openssl
ci_pkgs=(clang libclang-rt-14-dev clang-format clang-tidy)
bench_pkgs=(wrk nodejs webhook)  # bench/serve: the Node recipe and adnanh/webhook are peers

case "$profile" in
  run) wanted=("${run_pkgs[@]}") ;;
  test) wanted=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  ci) wanted=("${run_pkgs[@]}" "${test_pkgs[@]}" "${ci_pkgs[@]}") ;;
  bench) wanted=("${run_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 run|test|ci|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#wanted[@]} packages for '$profile' are installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The postgresql and redis-server packages may start system services; hookrx's tests never use
# them: they start throw-away servers of their own on free loopback ports.
echo "deps: done"
