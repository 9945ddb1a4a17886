#!/usr/bin/env bash
# Fuzzes every target built in BUILD (a clang build: libFuzzer + ASan/UBSan) for SECONDS each, JOBS
# at a time, with each target's dictionary and options, starting from its seed corpus and its
# regressions. Fails when any target finds a crash, a leak, an input slower than 1 s or one that
# needs more than 512 MB; the failing input is kept in BUILD/fuzz-run/artifacts/.
#
#   fuzz/run.sh [BUILD=build-clang] [SECONDS=60] [JOBS=2]
#
# CI runs it as is (.ci/run). Locally, for long campaigns: nice -n 19 fuzz/run.sh build-clang 3600 1.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-clang}
seconds=${2:-60}
jobs=${3:-2}
work=$build/fuzz-run
rm -rf "$work" && mkdir -p "$work/artifacts"

targets=()
for src in fuzz/fuzz_*.cpp; do
  name=$(basename "$src" .cpp)
  name=${name#fuzz_}
  if [ ! -x "$build/fuzz/fuzz_$name" ]; then
    echo "fuzz: $src has no binary in $build/fuzz (not registered with hookrx_add_fuzz_target, or not built)" >&2
    exit 1
  fi
  targets+=("$name")
done

# One target: libFuzzer flags from fuzz/<name>.options ("key = value" lines under [libfuzzer]),
# then CI's limits, which win (libFuzzer takes the last value of a flag).
fuzz_one() {
  local name=$1 flags=() key value
  while IFS='=' read -r key value; do
    key=$(echo "$key" | tr -d ' ')
    value=$(echo "$value" | tr -d ' ')
    [[ -z $key || $key == \[* || $key == \#* ]] && continue
    flags+=("-$key=$value")
  done < "fuzz/$name.options"
  [ -f "fuzz/$name.dict" ] && flags+=("-dict=fuzz/$name.dict")
  local corpus=$work/corpus/$name
  mkdir -p "$corpus"
  cp fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
  find "fuzz/regressions/$name" -type f ! -name '.gitkeep' ! -name 'README*' -exec cp {} "$corpus"/ \; 2>/dev/null || true
  local rc=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout $((seconds + 120)) "$build/fuzz/fuzz_$name" "${flags[@]}" \
      -max_total_time="$seconds" -timeout=1 -rss_limit_mb=512 -malloc_limit_mb=512 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/$name-" "$corpus" > "$work/$name.log" 2>&1 || rc=$?
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$' || echo '?')
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $name ok, $runs executions in ${seconds}s"
  else
    echo "fuzz: $name FAILED (exit $rc); log: $work/$name.log; input: $(ls "$work"/artifacts/"$name"-* 2>/dev/null | head -1)"
    grep -E 'ERROR|SUMMARY|property violated|Timeout|out-of-memory|leak' "$work/$name.log" | head -n 20
    return 1
  fi
}
export -f fuzz_one
export build seconds work

printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'fuzz_one "$@"' _ {} && status=0 || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz: failed; once fixed, keep each failing input in fuzz/regressions/<target>/"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no finding"
