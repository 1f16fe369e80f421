#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster for tests (sourced by test.sh, or run directly).
#   pg-throwaway.sh start DIR   -> prints DATABASE_URL=... and PG_PID=... (trust auth on 127.0.0.1)
#   pg-throwaway.sh stop DIR    -> stops the cluster started in DIR (pg_ctl, by its pid file)
set -euo pipefail

find_pg_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"; return
  fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
  echo "no PostgreSQL server binaries found (install the postgresql package)" >&2
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd=${1:?usage: pg-throwaway.sh start|stop DIR}
dir=${2:?usage: pg-throwaway.sh start|stop DIR}
bin=$(find_pg_bin)

case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres; chown postgres "$dir"; }
    as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
    port=$(free_port)
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null
    pid=$(head -1 "$dir/data/postmaster.pid")
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/bankapp"
    echo "PG_PORT=$port"
    echo "PG_PID=$pid"
    echo "PG_BIN=$bin"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
