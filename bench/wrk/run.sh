#!/usr/bin/env bash
# bench/wrk/run.sh: adapter throughput under wrk. For each server, the bare server (a 200 handler)
# and the same server through the hookrx adapter (verify, parse, synchronous dedup in memory, empty
# handler), each fed by bench/wrk/deliveries.lua (distinct, signed 1 KiB deliveries). Builds
# nothing: give it a build directory that has bench/hookrx_bench_wrk.
#
#   bench/wrk/run.sh BUILD_DIR [--servers httplib,beast,pistache,civetweb] [--rounds 3]
#                    [--duration 10s] [--warmup 2s] [--server-cpu 1] [--wrk-cpu 0] [--port 18080]
#                    [--quiet-wait 60] [--out DIR]
#
# Each round runs every server, bare and hookrx back to back; the order of the two modes alternates
# from round to round so that a drift in the machine's load does not always favour the same mode.
# Every run starts a fresh server process pinned to --server-cpu, warms it up for --warmup (not
# counted), then runs `wrk -t2 -c64 -d<duration> --latency` pinned to --wrk-cpu. Around the
# measured run it reads the server's utime+stime (/proc/PID/stat) and its core's counters
# (/proc/stat): "server CPU" is the server process's share of its core, "core busy" is everything
# that ran on that core (the server, softirq work of the loopback, and anybody else's jobs); "wrk
# CPU" is wrk's own user+sys time over its run (/usr/bin/time), as a share of its one core. If the
# bare server is well short of a full core, the bare figure is not server-bound: see which of the
# other two is full. "server µs/req" is the server's CPU time per answered request: it moves far
# less with a neighbour's load than req/s does, and bare/hookrx of it is the throughput ratio the
# two would reach if both were bound by the server's CPU alone.
#
# The machine is shared: before each run the script waits (up to --quiet-wait seconds, 0: never)
# until both CPUs were at least 85 % idle over one second, and records how idle they were.
#
# Server threads: httplib and CivetWeb serve one connection per thread, so they get 64 (one per wrk
# connection); Beast and Pistache are event-driven and get 1 (they have one core). The same count is
# used in both modes. Override with HOOKRX_WRK_THREADS_<SERVER>=N.
#
# Writes raw wrk output and a TSV of every run to --out (default BUILD_DIR/wrk-results/<time>), and
# prints a markdown table: medians over the rounds, with the range in brackets. Fails (status 1) if
# any wrk run reports a non-2xx answer or a duplicate (deliveries.lua checks every answer).
set -euo pipefail

usage() {
  sed -n '7,9p' "$0" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
build=$1
shift
servers=httplib,beast,pistache,civetweb
rounds=3
duration=10s
warmup=2s
server_cpu=1
wrk_cpu=0
port=18080
quiet_wait=60
out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --servers) servers=$2 ;;
    --rounds) rounds=$2 ;;
    --duration) duration=$2 ;;
    --warmup) warmup=$2 ;;
    --server-cpu) server_cpu=$2 ;;
    --wrk-cpu) wrk_cpu=$2 ;;
    --port) port=$2 ;;
    --quiet-wait) quiet_wait=$2 ;;
    --out) out=$2 ;;
    *) usage ;;
  esac
  shift 2
done

here=$(cd "$(dirname "$0")" && pwd)
binary=$build/bench/hookrx_bench_wrk
script=$here/deliveries.lua
secret=wh_sec_9f2c71e04ab35d86c1e7f0a24b9d63e5
[[ -x $binary ]] || { echo "run.sh: no $binary (build the hookrx_bench_wrk target)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "run.sh: wrk is not installed" >&2; exit 2; }
out=${out:-$build/wrk-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
tsv=$out/runs.tsv
printf 'round\tserver\tmode\trps\tp50_us\tp99_us\tserver_cpu\tcore_busy\twrk_cpu\tload1\tidle_before\tserver_us_per_req\n' >"$tsv"
[[ -x /usr/bin/time ]] || { echo "run.sh: needs /usr/bin/time (package time)" >&2; exit 2; }
clk_tck=$(getconf CLK_TCK)

threads_for() {
  local var="HOOKRX_WRK_THREADS_${1^^}"
  if [[ -n ${!var:-} ]]; then echo "${!var}"; return; fi
  case $1 in httplib | civetweb) echo 64 ;; *) echo 1 ;; esac
}

# utime + stime of a process, in clock ticks.
process_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# "busy total" ticks of one CPU (busy: all but idle and iowait).
cpu_ticks() {
  awk -v cpu="cpu$1" '$1 == cpu { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
now() { date +%s.%N; }

# Percent of all CPUs idle over the next second.
idle_pct() {
  local a b
  a=$(awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat)
  sleep 1
  b=$(awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f\n", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}

# Waits until the machine is quiet (or --quiet-wait has passed); sets $idle_before.
wait_for_quiet() {
  local waited=0
  idle_before=$(idle_pct)
  while ((idle_before < 85 && waited < quiet_wait)); do
    idle_before=$(idle_pct)
    waited=$((waited + 1))
  done
}

wait_for_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# Every wrk invocation gets its own run tag (4 hex digits of each document_id), so that no two
# runs, warm-ups included, send the same idempotency key. Sets $tag (no subshell: the counter must
# advance).
tag_counter=$((RANDOM % 4096))
next_tag() {
  tag_counter=$(((tag_counter + 1) % 65536))
  printf -v tag '%04x' "$tag_counter"
}

failed=0
server_pid=""
# A server still running when the script is interrupted is stopped by its PID.
trap '[[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true' EXIT
run_one() {  # round server mode
  local round=$1 server=$2 mode=$3 threads pid log
  threads=$(threads_for "$server")
  wait_for_quiet
  log=$out/$server-$mode-r$round
  taskset -c "$server_cpu" "$binary" --server "$server" --mode "$mode" --port "$port" --threads "$threads" \
    2>"$log.server.txt" &
  pid=$!
  server_pid=$pid
  if ! wait_for_port "$port"; then
    echo "run.sh: $server $mode did not start listening (see $log.server.txt)" >&2
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    failed=1
    return
  fi
  local url=http://127.0.0.1:$port
  next_tag
  taskset -c "$wrk_cpu" wrk -t2 -c64 -d"$warmup" -s "$script" "$url" -- "$secret" "$tag" >"$log.warmup.txt" 2>&1 ||
    { echo "run.sh: warm-up failed: $server $mode (see $log.warmup.txt)" >&2; failed=1; }

  local load1 p0 c0 t0 p1 c1 t1 rc=0
  next_tag
  load1=$(cut -d' ' -f1 /proc/loadavg)
  p0=$(process_ticks "$pid"); c0=$(cpu_ticks "$server_cpu"); t0=$(now)
  taskset -c "$wrk_cpu" /usr/bin/time -o "$log.wrk-time.txt" -f '%U %S %e' \
    wrk -t2 -c64 -d"$duration" --latency -s "$script" "$url" -- "$secret" "$tag" >"$log.wrk.txt" 2>&1 || rc=$?
  p1=$(process_ticks "$pid"); c1=$(cpu_ticks "$server_cpu"); t1=$(now)
  kill -TERM "$pid"
  wait "$pid" || true
  server_pid=""

  if [[ $rc -ne 0 ]]; then
    echo "run.sh: wrk FAILED for $server $mode round $round (status $rc):" >&2
    tail -n 5 "$log.wrk.txt" >&2
    failed=1
  fi
  local result
  result=$(grep '^wrk-result' "$log.wrk.txt" || true)
  [[ -n $result ]] || { echo "run.sh: no result from wrk for $server $mode" >&2; failed=1; return; }
  local rps p50 p99 requests
  rps=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$result")
  requests=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$result")
  p50=$(sed -E 's/.* p50_us=([0-9]+).*/\1/' <<<"$result")
  p99=$(sed -E 's/.* p99_us=([0-9]+).*/\1/' <<<"$result")
  local server_cpu_pct core_busy_pct wrk_cpu_pct us_per_req
  read -r server_cpu_pct core_busy_pct wrk_cpu_pct us_per_req < <(awk -v p0="$p0" -v p1="$p1" -v t0="$t0" \
    -v t1="$t1" -v hz="$clk_tck" -v c0="$c0" -v c1="$c1" -v w="$(tail -n 1 "$log.wrk-time.txt")" -v n="$requests" 'BEGIN {
      split(c0, a, " "); split(c1, b, " "); split(w, x, " ");
      printf "%.0f %.0f %.0f %.1f\n", 100 * (p1 - p0) / hz / (t1 - t0), 100 * (b[1] - a[1]) / (b[2] - a[2]),
        100 * (x[1] + x[2]) / x[3], 1e6 * (p1 - p0) / hz / n }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$mode" "$rps" "$p50" "$p99" \
    "$server_cpu_pct" "$core_busy_pct" "$wrk_cpu_pct" "$load1" "$idle_before" "$us_per_req" >>"$tsv"
  printf 'round %s  %-8s %-6s %7s req/s  p99 %6.2f ms  server CPU %3s%% (%5s us/req)  its core busy %3s%%  wrk CPU %3s%%  load %s  idle before %s%%\n' \
    "$round" "$server" "$mode" "$rps" "$(awk -v u="$p99" 'BEGIN { print u / 1000 }')" "$server_cpu_pct" "$us_per_req" \
    "$core_busy_pct" "$wrk_cpu_pct" "$load1" "$idle_before"
}

echo "hookrx wrk bench: $(nproc) CPUs, server on CPU $server_cpu, wrk on CPU $wrk_cpu; $(uptime)"
echo "wrk -t2 -c64 -d$duration --latency -s $script; warm-up $warmup; $rounds rounds; raw output in $out"
IFS=, read -r -a server_list <<<"$servers"
for round in $(seq 1 "$rounds"); do
  for server in "${server_list[@]}"; do
    if ((round % 2 == 1)); then order=(bare hookrx); else order=(hookrx bare); fi
    for mode in "${order[@]}"; do run_one "$round" "$server" "$mode"; done
  done
done
echo "done; $(uptime)"

# Medians over the rounds, range in brackets; the ratio is hookrx over bare, of the medians, with
# the range of the per-round ratios.
awk -F'\t' -v threads_httplib="$(threads_for httplib)" -v threads_beast="$(threads_for beast)" \
  -v threads_pistache="$(threads_for pistache)" -v threads_civetweb="$(threads_for civetweb)" '
  function median(list,    v, n, i, j, t) {
    n = split(list, v, " ");
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2;
  }
  function lo(list,    v, n, i, m) { n = split(list, v, " "); m = v[1]; for (i = 2; i <= n; i++) if (v[i] + 0 < m + 0) m = v[i]; return m }
  function hi(list,    v, n, i, m) { n = split(list, v, " "); m = v[1]; for (i = 2; i <= n; i++) if (v[i] + 0 > m + 0) m = v[i]; return m }
  function add(key, value) { values[key] = (key in values) ? values[key] " " value : value }
  NR > 1 {
    if (!($2 in seen)) { seen[$2] = 1; order[++count] = $2 }
    add($2 SUBSEP $3 SUBSEP "rps", $4); add($2 SUBSEP $3 SUBSEP "p99", $6 / 1000);
    add($2 SUBSEP $3 SUBSEP "cpu", $7); add($2 SUBSEP $3 SUBSEP "busy", $8); add($2 SUBSEP $3 SUBSEP "wrk", $9);
    add($2 SUBSEP $3 SUBSEP "us", $12);
    rps[$1 SUBSEP $2 SUBSEP $3] = $4; rounds[$1] = 1
  }
  END {
    print "";
    print "| server (threads) | bare req/s | hookrx req/s | hookrx / bare | server CPU % bare / hookrx | server µs/req bare / hookrx (ratio) | core busy % bare / hookrx | wrk CPU % bare / hookrx | p99 ms bare / hookrx |";
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|";
    for (i = 1; i <= count; i++) {
      s = order[i]; b = s SUBSEP "bare" SUBSEP; h = s SUBSEP "hookrx" SUBSEP;
      if (!((b "rps") in values) || !((h "rps") in values)) continue;
      ratios = "";
      for (r in rounds) if (((r SUBSEP s SUBSEP "bare") in rps) && ((r SUBSEP s SUBSEP "hookrx") in rps))
        ratios = ratios (ratios == "" ? "" : " ") rps[r SUBSEP s SUBSEP "hookrx"] / rps[r SUBSEP s SUBSEP "bare"];
      t = s == "httplib" ? threads_httplib : s == "beast" ? threads_beast : s == "pistache" ? threads_pistache : threads_civetweb;
      printf "| %s (%s) | %d [%d–%d] | %d [%d–%d] | **%.0f %%** [%.0f–%.0f] | %d / %d | %.1f / %.1f (%.0f %%) | %d / %d | %d / %d | %.2f / %.2f |\n",
        s, t, median(values[b "rps"]), lo(values[b "rps"]), hi(values[b "rps"]),
        median(values[h "rps"]), lo(values[h "rps"]), hi(values[h "rps"]),
        100 * median(values[h "rps"]) / median(values[b "rps"]), 100 * lo(ratios), 100 * hi(ratios),
        median(values[b "cpu"]), median(values[h "cpu"]),
        median(values[b "us"]), median(values[h "us"]), 100 * median(values[b "us"]) / median(values[h "us"]),
        median(values[b "busy"]), median(values[h "busy"]),
        median(values[b "wrk"]), median(values[h "wrk"]), median(values[b "p99"]), median(values[h "p99"]);
      if (median(values[b "cpu"]) < 85)
        notes = notes sprintf("- %s: the bare server used %d %% of its core (core busy %d %%): the bare figure is not server-CPU-bound (client, kernel or a neighbour limits it).\n",
          s, median(values[b "cpu"]), median(values[b "busy"]));
    }
    if (notes != "") printf "\n%s", notes;
  }' "$tsv"
echo
echo "every run: $tsv"
if [[ $failed -ne 0 ]]; then
  echo "run.sh: SOME RUNS FAILED (see above): these numbers do not count" >&2
  exit 1
fi
