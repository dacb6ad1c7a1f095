#!/usr/bin/env bash
# Starts Redis (appendonly yes, appendfsync always) and PostgreSQL 15 on localhost, creates the
# database and a demo campaign on first start, then runs one coupond node in the foreground.
# Ctrl-C stops the node and both servers. Used by `make run`.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${COUPOND_BIN:-$root/.build/debug/coupond}
run_dir=${COUPOND_RUN_DIR:-/tmp/coupond-run}
redis_port=${COUPOND_REDIS_PORT:-6380}
pg_port=${COUPOND_PG_PORT:-5433}
http_port=${COUPOND_PORT:-8080}
pg_bin=/usr/lib/postgresql/15/bin

mkdir -p "$run_dir/redis"
chmod 755 "$run_dir"

# PostgreSQL refuses to run as root: run it as the unprivileged 'postgres' user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

if [ ! -f "$run_dir/pg/PG_VERSION" ]; then
  mkdir -p "$run_dir/pg"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$run_dir/pg"
  as_pg "$pg_bin/initdb" -D "$run_dir/pg" -U postgres --auth=trust >"$run_dir/initdb.log" 2>&1
fi

pids=()
cleanup() {
  # Newest first: the node (so its flusher finishes its batch), then PostgreSQL and Redis.
  # SIGINT is PostgreSQL's fast shutdown and stops Redis and coupond cleanly too.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -INT "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run_dir/redis" --appendonly yes \
  --appendfsync always --save "" --daemonize no >"$run_dir/redis.log" 2>&1 &
pids+=($!)

# `exec` in a subshell so that $! is the postgres process itself, not a shell around it.
pg_args=(-D "$run_dir/pg" -p "$pg_port" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$run_dir/pg" -c synchronous_commit=on)
if [ "$(id -u)" = 0 ]; then
  (exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$pg_bin/postgres" "${pg_args[@]}" >"$run_dir/postgres.log" 2>&1) &
else
  (exec "$pg_bin/postgres" "${pg_args[@]}" >"$run_dir/postgres.log" 2>&1) &
fi
pids+=($!)

for _ in $(seq 1 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && psql -h 127.0.0.1 -p "$pg_port" -U postgres -Atc 'select 1' >/dev/null 2>&1 && break
  sleep 0.1
done
psql -h 127.0.0.1 -p "$pg_port" -U postgres -Atc "select 1 from pg_database where datname = 'coupond'" | grep -q 1 \
  || psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc 'create database coupond'

export COUPOND_REDIS=127.0.0.1:$redis_port
export COUPOND_POSTGRES="host=127.0.0.1 port=$pg_port dbname=coupond user=postgres"
export COUPOND_PORT=$http_port

if [ ! -f "$run_dir/demo.env" ]; then
  "$bin" demo --keys-file "$run_dir/demo.env" >/dev/null
fi
# shellcheck disable=SC1091
. "$run_dir/demo.env"

cat <<MSG

coupond is starting on http://127.0.0.1:$http_port  (Redis :$redis_port, PostgreSQL :$pg_port, data in $run_dir)
Demo campaign $COUPOND_DEMO_CAMPAIGN; keys are in $run_dir/demo.env. Try:

  Console: http://127.0.0.1:$http_port/console/  (sign in with COUPOND_ADMIN_KEY or COUPOND_FINANCE_KEY from demo.env)

  curl -s -X POST http://127.0.0.1:$http_port/v1/campaigns/$COUPOND_DEMO_CAMPAIGN/claims \\
       -H "Authorization: Bearer $COUPOND_ISSUE_KEY" -d '{"user_id":"alice","request_id":"r-1"}'
  curl -s http://127.0.0.1:$http_port/v1/users/alice/coupons -H "Authorization: Bearer $COUPOND_CHECKOUT_KEY"
  curl -s http://127.0.0.1:$http_port/v1/campaigns/$COUPOND_DEMO_CAMPAIGN -H "Authorization: Bearer $COUPOND_ADMIN_KEY"

MSG

"$bin" serve &
pids+=($!)
wait "${pids[-1]}"
