#!/usr/bin/env bash
# A throw-away PostgreSQL server for hookrx's tests, on a free loopback port.
#
#   scripts/testsupport/postgres.sh start DIR    new cluster in DIR/data, server up, DIR/conninfo written
#   scripts/testsupport/postgres.sh stop DIR     server stopped, DIR removed
#   scripts/testsupport/postgres.sh halt DIR     server stopped, cluster kept (outage tests)
#   scripts/testsupport/postgres.sh resume DIR   the halted server started again on the same port
#   scripts/testsupport/postgres.sh freeze DIR   every server process stopped (SIGSTOP): a hung server
#   scripts/testsupport/postgres.sh thaw DIR     the frozen processes continue (SIGCONT)
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user (created
# by the Debian package) and its commands run through runuser; as anyone else they run as that
# user. DIR must be a path the server's user can reach (e.g. under /tmp). Clients connect over TCP
# to 127.0.0.1 with the conninfo in DIR/conninfo (trust authentication, user hookrx).
set -euo pipefail

PG_BIN=${HOOKRX_PG_BIN:-/usr/lib/postgresql/15/bin}
DB_NAME=hookrx_test

die() {
  echo "postgres.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start|stop|halt|resume|freeze|thaw DIR" >&2
  exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -n "$dir" ] || usage
case "$dir" in
  /*) ;;
  *) dir="$(pwd)/$dir" ;;
esac

for tool in initdb pg_ctl createdb pg_isready; do
  [ -x "$PG_BIN/$tool" ] || die "$PG_BIN/$tool not found: install the postgresql package (Debian: apt-get install postgresql) or set HOOKRX_PG_BIN"
done

as_server_user=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run the server as"
  command -v runuser >/dev/null 2>&1 || die "running as root, but runuser is missing"
  as_server_user=(runuser -u postgres --)
fi

# Only ever delete a directory this script made: it holds our marker file, or nothing at all.
is_ours() {
  [ -f "$1/.hookrx-postgres" ] || [ -z "$(ls -A "$1" 2>/dev/null)" ]
}

server_running() {
  [ -f "$dir/data/postmaster.pid" ] && "${as_server_user[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

stop_server() {
  if server_running; then
    # A frozen server (see freeze) could not shut down: let it run first.
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    case "$pid" in
      '' | *[!0-9]*) ;;
      *)
        kill -CONT "$pid" 2>/dev/null || true
        pkill -CONT -P "$pid" 2>/dev/null || true
        ;;
    esac
    "${as_server_user[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
  fi
}

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# Starts the server on port $1; fails (without printing) when the port was taken meanwhile.
start_server() {
  "${as_server_user[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c full_page_writes=off" \
    start >/dev/null
}

case "$cmd" in
  start)
    if [ -e "$dir" ]; then
      is_ours "$dir" || die "$dir exists and was not made by this script; refusing to touch it"
      stop_server || true
      rm -rf "$dir"
    fi
    mkdir -p "$dir"
    touch "$dir/.hookrx-postgres"
    if [ ${#as_server_user[@]} -gt 0 ]; then
      chown postgres: "$dir"
      chmod 0755 "$dir"
      "${as_server_user[@]}" test -w "$dir" || die "the postgres user cannot write to $dir (put it under /tmp)"
    fi
    "${as_server_user[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U hookrx -E UTF8 --no-locale --no-sync \
      >"$dir/initdb.log" 2>&1 || die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
    started=""
    for _ in $(seq 1 20); do
      port=$((20000 + RANDOM % 40000))
      port_in_use "$port" && continue
      if start_server "$port" 2>/dev/null; then
        started=$port
        break
      fi
    done
    [ -n "$started" ] || die "could not start the server: $(tail -n 5 "$dir/log" 2>/dev/null)"
    echo "$started" >"$dir/port"
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$started" -U hookrx "$DB_NAME" || die "createdb failed"
    echo "host=127.0.0.1 port=$started user=hookrx dbname=$DB_NAME" >"$dir/conninfo"
    chmod 0644 "$dir/conninfo"
    echo "postgres.sh: server on 127.0.0.1:$started, conninfo in $dir/conninfo"
    ;;
  stop)
    [ -e "$dir" ] || exit 0
    is_ours "$dir" || die "$dir was not made by this script; refusing to touch it"
    stop_server
    rm -rf "$dir"
    ;;
  halt)
    [ -f "$dir/port" ] || die "no server was started in $dir"
    stop_server
    ;;
  resume)
    [ -f "$dir/port" ] || die "no server was started in $dir"
    server_running && exit 0
    start_server "$(cat "$dir/port")" || die "could not start the server again: $(tail -n 5 "$dir/log" 2>/dev/null)"
    ;;
  freeze | thaw)
    # Only this cluster's processes: the postmaster named in its pid file, and its children.
    [ -f "$dir/data/postmaster.pid" ] || die "no server is running in $dir"
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    case "$pid" in '' | *[!0-9]*) die "bad pid file in $dir/data" ;; esac
    if [ "$cmd" = freeze ]; then
      pkill -STOP -P "$pid" || true
      kill -STOP "$pid"
    else
      kill -CONT "$pid"
      pkill -CONT -P "$pid" || true
    fi
    ;;
  *) usage ;;
esac
