# Sourced by load-tests/run.sh and Benchmarks/run.sh: starts Redis (appendonly yes,
# appendfsync always), PostgreSQL 15 (synchronous_commit on) and optionally one coupond node,
# each on a free loopback port in a temp dir, and stops exactly those pids on exit.
# Needs: $bin_dir (release binaries). Sets: run_dir redis_port pg_port conninfo node_port node_pid keys_file.

pg_bin=/usr/lib/postgresql/15/bin
run_dir=$(mktemp -d /tmp/coupond-perf.XXXXXX)
chmod 755 "$run_dir"
stack_pids=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

stack_cleanup() {
  for pid in "${stack_pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${stack_pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [ -n "${KEEP_RUN_DIR:-}" ] || rm -rf "$run_dir"
}
trap stack_cleanup EXIT
trap 'exit 130' INT TERM

as_pg() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

start_redis() {
  redis_port=$(free_port)
  mkdir -p "$run_dir/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run_dir/redis" --appendonly yes \
    --appendfsync always --save "" --daemonize no >"$run_dir/redis.log" 2>&1 &
  stack_pids+=($!)
  redis_pid=$!
}

start_postgres() {
  pg_port=$(free_port)
  mkdir -p "$run_dir/pg"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$run_dir/pg"
  as_pg "$pg_bin/initdb" -D "$run_dir/pg" -U postgres --auth=trust --no-sync >"$run_dir/initdb.log" 2>&1
  local args=(-D "$run_dir/pg" -p "$pg_port" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$run_dir/pg"
    -c synchronous_commit=on -c max_connections=200)
  if [ "$(id -u)" = 0 ]; then
    (exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$pg_bin/postgres" "${args[@]}" >"$run_dir/postgres.log" 2>&1) &
  else
    (exec "$pg_bin/postgres" "${args[@]}" >"$run_dir/postgres.log" 2>&1) &
  fi
  stack_pids+=($!)
  pg_pid=$!
  conninfo="host=127.0.0.1 port=$pg_port dbname=coupond user=postgres"
}

wait_backends() {
  for _ in $(seq 1 150); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && psql -h 127.0.0.1 -p "$pg_port" -U postgres -Atc 'select 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc 'create database coupond'
}

# start_node [extra coupond flags...]: one node on a free port, keys in $keys_file.
start_node() {
  node_port=$(free_port)
  keys_file=$run_dir/keys.env
  export COUPOND_REDIS=127.0.0.1:$redis_port COUPOND_POSTGRES="$conninfo" COUPOND_PORT=$node_port COUPOND_LOG_LEVEL=${COUPOND_LOG_LEVEL:-warning}
  [ -f "$keys_file" ] || "$bin_dir/coupond" demo --keys-file "$keys_file" >/dev/null
  "$bin_dir/coupond" serve "$@" >"$run_dir/node.log" 2>&1 &
  stack_pids+=($!)
  node_pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$node_port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "node did not start:"; tail -20 "$run_dir/node.log"; return 1
}
