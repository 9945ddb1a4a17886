#!/usr/bin/env bash
# Line coverage of src/ from replaying the fuzz corpora alone (fuzz/corpus/*/ and
# fuzz/regressions/*/), with clang's source-based coverage. Builds the fuzz targets with the replay
# driver (not libFuzzer) into build-coverage/, runs each over its inputs, and prints llvm-cov's
# report for src/ and the TOTAL line coverage. The figure is recorded in fuzz/README.md.
#
#   scripts/fuzz-coverage.sh [extra cmake args]     e.g. -DHOOKRX_SHARED_DIR=/path/to/shared
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-coverage
llvm_profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata)
llvm_cov=$(command -v llvm-cov-14 || command -v llvm-cov)

# HOOKRX_HAVE_LIBFUZZER=OFF pre-empts fuzz/CMakeLists.txt's check: the replay driver is linked.
CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" \
  -DHOOKRX_HAVE_LIBFUZZER=OFF -DHOOKRX_FUZZ=ON -DHOOKRX_TESTS=OFF -DHOOKRX_BENCH=OFF -DHOOKRX_EXAMPLES=OFF \
  -DHOOKRX_INSTALL=OFF "$@" > /dev/null
cmake --build "$build" -j "$(nproc)" --target hookrx_fuzz_all > /dev/null

profiles=$build/coverage-profiles
rm -rf "$profiles" && mkdir -p "$profiles"
objects=()
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=${bin##*/fuzz_}
  dirs=()
  for d in fuzz/corpus/"$name" fuzz/regressions/"$name"; do [ -d "$d" ] && dirs+=("$d"); done
  LLVM_PROFILE_FILE="$profiles/$name.profraw" "$bin" "${dirs[@]}" | sed "s/^/$name: /"
  objects+=(-object "$bin")
done
"$llvm_profdata" merge -sparse "$profiles"/*.profraw -o "$profiles/merged.profdata"
# The first -object is given as the binary, the rest as -object.
"$llvm_cov" report "${objects[@]:1}" -instr-profile="$profiles/merged.profdata" \
  -ignore-filename-regex="(^|/)(include|stores|tests|fuzz|adapters)/|^/usr/" | tee "$build/coverage.txt"
total=$(awk '/^TOTAL/ {print $(NF-3)}' "$build/coverage.txt")
echo "fuzz corpus replay: line coverage of src/ = $total"
