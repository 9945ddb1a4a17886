#!/usr/bin/env bash
# A throw-away Redis server for hookrx's tests, on a free loopback port, without persistence.
#
#   scripts/testsupport/redis.sh start DIR [ARG...]   server up; DIR/pid and DIR/port written;
#                                                     ARGs go to redis-server (e.g. --requirepass x)
#   scripts/testsupport/redis.sh stop DIR             server stopped (by PID), DIR removed
#   scripts/testsupport/redis.sh halt DIR             server killed (SIGKILL, like a crash), DIR kept
#   scripts/testsupport/redis.sh resume DIR           the halted server started again on the same port
#
# The server runs in the foreground of a background job (--daemonize no), its output in DIR/log,
# and listens on 127.0.0.1 only.
set -euo pipefail

die() {
  echo "redis.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start DIR [redis-server ARG...] | stop DIR | halt DIR | resume DIR" >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2
[ -n "$dir" ] || usage
case "$dir" in
  /*) ;;
  *) dir="$(pwd)/$dir" ;;
esac

for tool in redis-server redis-cli; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: install it (Debian: apt-get install redis-server redis-tools)"
done

# Only ever delete a directory this script made: it holds our marker file, or nothing at all.
is_ours() {
  [ -f "$1/.hookrx-redis" ] || [ -z "$(ls -A "$1" 2>/dev/null)" ]
}

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# The PID in DIR/pid, if that process is still our redis-server.
running_pid() {
  [ -f "$dir/pid" ] || return 1
  local pid
  pid=$(cat "$dir/pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "redis-server" || return 1
  echo "$pid"
}

# Kills the server with signal $1 and waits (bounded) until it is gone.
kill_server() {
  local pid
  pid=$(running_pid) || return 0
  kill "-$1" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.1
}

# Starts the server on port $1 with the saved extra arguments; returns non-zero (without
# printing) when it exits early, e.g. because the port was taken meanwhile.
start_server() {
  local port=$1
  local extra=()
  if [ -s "$dir/args" ]; then
    mapfile -d '' extra <"$dir/args"
  fi
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no --daemonize no \
    "${extra[@]}" </dev/null >>"$dir/log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    # A server with requirepass answers NOAUTH: it is up all the same.
    if redis-cli -h 127.0.0.1 -p "$port" ping 2>&1 | grep -Eq 'PONG|NOAUTH'; then
      return 0
    fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  return 1
}

case "$cmd" in
  start)
    if [ -e "$dir" ]; then
      is_ours "$dir" || die "$dir exists and was not made by this script; refusing to touch it"
      kill_server TERM
      rm -rf "$dir"
    fi
    mkdir -p "$dir"
    touch "$dir/.hookrx-redis"
    # The extra arguments are kept for `resume` (they may hold a test password: mode 600).
    (umask 077 && : >"$dir/args")
    if [ $# -gt 0 ]; then
      printf '%s\0' "$@" >"$dir/args"
    fi
    started=""
    for _ in $(seq 1 20); do
      port=$((20000 + RANDOM % 40000))
      port_in_use "$port" && continue
      if start_server "$port"; then
        started=$port
        break
      fi
    done
    [ -n "$started" ] || die "could not start the server: $(tail -n 5 "$dir/log" 2>/dev/null)"
    echo "$started" >"$dir/port"
    chmod 0644 "$dir/port"
    echo "redis.sh: server on 127.0.0.1:$started, pid $(cat "$dir/pid")"
    ;;
  stop)
    [ -e "$dir" ] || exit 0
    is_ours "$dir" || die "$dir was not made by this script; refusing to touch it"
    kill_server TERM
    rm -rf "$dir"
    ;;
  halt)
    [ -f "$dir/port" ] || die "no server was started in $dir"
    kill_server KILL
    ;;
  resume)
    [ -f "$dir/port" ] || die "no server was started in $dir"
    running_pid >/dev/null && exit 0
    start_server "$(cat "$dir/port")" || die "could not start the server again: $(tail -n 5 "$dir/log" 2>/dev/null)"
    ;;
  *) usage ;;
esac
