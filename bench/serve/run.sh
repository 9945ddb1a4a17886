#!/usr/bin/env bash
# bench/serve/run.sh: `hookrx serve` under wrk, against its peers, in one run.
#
#   bench/serve/run.sh BUILD_DIR [--servers LIST] [--conns 32,256] [--rounds 1] [--duration 10s]
#                      [--warmup 2s] [--server-cpu 1] [--wrk-cpu 0] [--port 18090] [--out DIR]
#
# BUILD_DIR must have cli/hookrx and bench/hookrx_bench_wrk. Servers (default: all):
#   serve-memory   hookrx serve --store memory: --jsonl FILE     (verify, parse, dedup, inbox, fsynced sink)
#   serve-sqlite   hookrx serve --store sqlite:FILE --jsonl FILE (stored before the 2xx, synchronous=FULL)
#   serve-sqlite-poll  serve-sqlite with --poll: every document webhook also counted on its
#                  extraction's watch (the poller's bookkeeping). The API base is unreachable, so
#                  the poller's own rounds fail at once, once a minute: the webhook path is measured.
#   beast-bare     bench/wrk's bare Boost.Beast server answering 200 (the ceiling of the same library)
#   node           the vendor's Node recipe (bench/serve/node_receiver.js: createHmac + timingSafeEqual + JSON.parse)
#   webhook        adnanh/webhook (Debian `webhook`) with a payload-hmac-sha256 rule running /bin/true
# Every request is a distinct signed 1 KiB delivery (bench/wrk/deliveries.lua), wrk -t2 -cN, the
# server pinned to --server-cpu (all its threads: I/O, inbox workers, the SQLite writer) and wrk to
# --wrk-cpu. For the hookrx servers the script then reads /metrics: how many deliveries were
# queued and handled by the end of the run, and how long the inbox took to drain after it (the
# JSONL sink keeping up). "server µs/req" is the server's utime+stime per answered request.
# HOOKRX_BENCH_SERVE_ARGS adds flags to both hookrx runs (e.g. "--io-threads 8 --workers 32").
# The machine may be shared: the idle share of both CPUs just before each run is recorded.
set -euo pipefail

usage() { sed -n '4,5p' "$0" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
build=$(cd "$1" && pwd)
shift
servers=serve-memory,serve-sqlite,serve-sqlite-poll,beast-bare,node,webhook
conns_list=32,256
rounds=1
duration=10s
warmup=2s
server_cpu=1
wrk_cpu=0
port=18090
out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --servers) servers=$2 ;;
    --conns) conns_list=$2 ;;
    --rounds) rounds=$2 ;;
    --duration) duration=$2 ;;
    --warmup) warmup=$2 ;;
    --server-cpu) server_cpu=$2 ;;
    --wrk-cpu) wrk_cpu=$2 ;;
    --port) port=$2 ;;
    --out) out=$2 ;;
    *) usage ;;
  esac
  shift 2
done

here=$(cd "$(dirname "$0")" && pwd)
script=$here/../wrk/deliveries.lua
secret=wh_sec_9f2c71e04ab35d86c1e7f0a24b9d63e5
hookrx=$build/cli/hookrx
bare=$build/bench/hookrx_bench_wrk
out=${out:-$build/serve-bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
tsv=$out/runs.tsv
printf 'round\tserver\tconns\trps\tp50_us\tp99_us\tserver_cpu\tserver_us_per_req\tidle_before\tqueued\thandled_at_end\tdrain_s\n' >"$tsv"
clk_tck=$(getconf CLK_TCK)
command -v wrk >/dev/null || { echo "run.sh: wrk is not installed (scripts/deps.sh bench)" >&2; exit 2; }

process_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Ticks of a process and all its threads' children (webhook forks /bin/true per request).
tree_ticks() {
  local t
  t=$(process_ticks "$1")
  awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo "$t"
}
idle_pct() {
  local a b
  a=$(awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat)
  sleep 1
  b=$(awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f\n", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}
wait_for_port() {
  for _ in $(seq 1 400); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}
metric() {  # port name -> value (0 when absent)
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }'
}

tag_counter=$((RANDOM % 4096))
next_tag() { tag_counter=$(((tag_counter + 1) % 65536)); printf -v tag '%04x' "$tag_counter"; }

server_pid=""
trap '[[ -z $server_pid ]] || kill -TERM "$server_pid" 2>/dev/null || true' EXIT
failed=0

start_server() {  # server dir -> sets server_pid, path
  local name=$1 dir=$2
  path=/webhooks/perfectparser
  case $name in
    serve-memory | serve-sqlite | serve-sqlite-poll)
      local store=memory: poll=()
      [[ $name == serve-sqlite* ]] && store=sqlite:$dir/hookrx.db
      [[ $name == serve-sqlite-poll ]] && poll=(--poll --pp-api-base http://127.0.0.1:9)
      HOOKRX_PP_SIGNING_SECRETS=$secret HOOKRX_PP_API_KEY=pp_bench_unused taskset -c "$server_cpu" "$hookrx" serve \
        --listen "127.0.0.1:$port" --store "$store" --jsonl "$dir/events.jsonl" --log-level warn "${poll[@]}" \
        ${HOOKRX_BENCH_SERVE_ARGS:-} 2>"$dir/server.log" &
      ;;
    beast-bare)
      taskset -c "$server_cpu" "$bare" --server beast --mode bare --port "$port" --threads 1 2>"$dir/server.log" &
      ;;
    node)
      HOOKRX_BENCH_SECRET=$secret taskset -c "$server_cpu" node "$here/node_receiver.js" "$port" 2>"$dir/server.log" &
      ;;
    webhook)
      sed "s/@SECRET@/$secret/" "$here/hooks.json.in" >"$dir/hooks.json"
      taskset -c "$server_cpu" webhook -hooks "$dir/hooks.json" -ip 127.0.0.1 -port "$port" \
        >"$dir/server.log" 2>&1 &
      path=/hooks/perfectparser
      ;;
    *) echo "run.sh: unknown server $name" >&2; exit 2 ;;
  esac
  server_pid=$!
  wait_for_port "$port" || { echo "run.sh: $name did not start (see $dir/server.log)" >&2; return 1; }
}

run_one() {  # round server conns
  local round=$1 name=$2 conns=$3
  local dir=$out/$name-c$conns-r$round
  mkdir -p "$dir"
  local idle_before
  idle_before=$(idle_pct)
  start_server "$name" "$dir" || { failed=1; return; }
  local url=http://127.0.0.1:$port
  next_tag
  taskset -c "$wrk_cpu" wrk -t2 -c"$conns" -d"$warmup" -s "$script" "$url" -- "$secret" "$tag" "$path" \
    >"$dir/warmup.txt" 2>&1 || { echo "run.sh: warm-up failed: $name c$conns (see $dir/warmup.txt)" >&2; failed=1; }
  next_tag
  local p0 t0 p1 t1 rc=0
  p0=$(tree_ticks "$server_pid"); t0=$(date +%s.%N)
  taskset -c "$wrk_cpu" wrk -t2 -c"$conns" -d"$duration" --latency -s "$script" "$url" -- "$secret" "$tag" "$path" \
    >"$dir/wrk.txt" 2>&1 || rc=$?
  p1=$(tree_ticks "$server_pid"); t1=$(date +%s.%N)
  local queued="" handled="" drain=""
  if [[ $name == serve-* ]]; then
    queued=$(metric "$port" hookrx_inbox_queued_total)
    handled=$(metric "$port" hookrx_inbox_handled_total)
    local d0 d1
    d0=$(date +%s.%N)
    for _ in $(seq 1 1200); do
      [[ $(metric "$port" hookrx_inbox_depth) == 0 ]] && break
      sleep 0.1
    done
    d1=$(date +%s.%N)
    drain=$(awk -v a="$d0" -v b="$d1" 'BEGIN { printf "%.1f", b - a }')
  fi
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
  [[ $rc -eq 0 ]] || { echo "run.sh: wrk FAILED for $name c$conns (status $rc):" >&2; tail -n 3 "$dir/wrk.txt" >&2; failed=1; }
  local result
  result=$(grep '^wrk-result' "$dir/wrk.txt" || true)
  [[ -n $result ]] || { echo "run.sh: no result from wrk for $name c$conns" >&2; failed=1; return; }
  local rps p50 p99 requests
  rps=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$result")
  requests=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$result")
  p50=$(sed -E 's/.* p50_us=([0-9]+).*/\1/' <<<"$result")
  p99=$(sed -E 's/.* p99_us=([0-9]+).*/\1/' <<<"$result")
  local cpu us
  read -r cpu us < <(awk -v p0="$p0" -v p1="$p1" -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" -v n="$requests" \
    'BEGIN { printf "%.0f %.1f\n", 100 * (p1 - p0) / hz / (t1 - t0), (n > 0 ? 1e6 * (p1 - p0) / hz / n : 0) }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$conns" "$rps" "$p50" "$p99" "$cpu" "$us" \
    "$idle_before" "${queued:--}" "${handled:--}" "${drain:--}" >>"$tsv"
  printf '%-13s c%-4s %7s req/s  p50 %6.2f ms  p99 %7.2f ms  server CPU %3s%% (%6s us/req)  idle before %3s%%  queued %s handled %s drain %ss\n' \
    "$name" "$conns" "$rps" "$(awk -v u="$p50" 'BEGIN { print u / 1000 }')" "$(awk -v u="$p99" 'BEGIN { print u / 1000 }')" \
    "$cpu" "$us" "$idle_before" "${queued:--}" "${handled:--}" "${drain:--}"
}

echo "hookrx serve bench: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), server on CPU $server_cpu, wrk on CPU $wrk_cpu; $(uptime)"
echo "wrk -t2 -c{$conns_list} -d$duration --latency, distinct signed 1 KiB deliveries; warm-up $warmup; raw output in $out"
IFS=, read -r -a server_list <<<"$servers"
IFS=, read -r -a conn_counts <<<"$conns_list"
for round in $(seq 1 "$rounds"); do
  for conns in "${conn_counts[@]}"; do
    for name in "${server_list[@]}"; do run_one "$round" "$name" "$conns"; done
  done
done
echo "done; $(uptime)"

# One table: medians over the rounds; ratios against node at the same connection count.
awk -F'\t' '
  function median(list,    v, n, i, j, t) {
    n = split(list, v, " ");
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2;
  }
  function add(key, value) { values[key] = (key in values) ? values[key] " " value : value }
  NR > 1 {
    k = $2 SUBSEP $3
    if (!(k in seen)) { seen[k] = 1; order[++count] = k }
    add(k SUBSEP "rps", $4); add(k SUBSEP "p50", $5 / 1000); add(k SUBSEP "p99", $6 / 1000);
    add(k SUBSEP "cpu", $7); add(k SUBSEP "us", $8); add(k SUBSEP "idle", $9)
    last_q[k] = $10; last_h[k] = $11; last_d[k] = $12
  }
  END {
    print "";
    print "| server | conns | req/s | vs node | p50 ms | p99 ms | server CPU % | server µs/req | idle before % | queued / handled at end / drain s |";
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|";
    for (i = 1; i <= count; i++) {
      k = order[i]; split(k, parts, SUBSEP);
      node = "node" SUBSEP parts[2];
      ratio = ((node SUBSEP "rps") in values) ? sprintf("%.2fx", median(values[k SUBSEP "rps"]) / median(values[node SUBSEP "rps"])) : "-";
      printf "| %s | %s | %d | %s | %.2f | %.2f | %d | %.1f | %d | %s / %s / %s |\n", parts[1], parts[2],
        median(values[k SUBSEP "rps"]), ratio, median(values[k SUBSEP "p50"]), median(values[k SUBSEP "p99"]),
        median(values[k SUBSEP "cpu"]), median(values[k SUBSEP "us"]), median(values[k SUBSEP "idle"]),
        last_q[k], last_h[k], last_d[k];
    }
  }' "$tsv"
echo
echo "every run: $tsv"
[[ $failed -eq 0 ]] || { echo "run.sh: SOME RUNS FAILED (see above): these numbers do not count" >&2; exit 1; }
