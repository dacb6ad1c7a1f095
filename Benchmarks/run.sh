#!/usr/bin/env bash
# `make bench`: starts Redis (appendonly yes, appendfsync always), a second Redis for the flusher
# measurement, PostgreSQL 15 and one coupond node on free loopback ports in a temp dir, runs
# coupon-bench (≈ 1–2 minutes, every run bounded), writes Benchmarks/results/latest.json and
# stops exactly the pids it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
out=${BENCH_OUT:-$root/Benchmarks/results}
mkdir -p "$out"
# shellcheck source=../load-tests/stack.sh
. "$root/load-tests/stack.sh"
ulimit -n 8192 2>/dev/null || true

start_redis
main_redis_port=$redis_port
start_redis
flush_redis_port=$redis_port
redis_port=$main_redis_port
start_postgres
wait_backends
redis-cli -p "$flush_redis_port" ping >/dev/null
# A second node without a flusher, on its own Redis, measures the claim path alone
# (HTTP → Redis → reply), as when PostgreSQL and the flushers run on other hosts.
start_redis
noflush_redis_port=$redis_port
wait_backends_redis() { for _ in $(seq 1 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; }
wait_backends_redis "$noflush_redis_port"
redis_port=$noflush_redis_port
start_node --flusher false ${BENCH_NODE_FLAGS:-}
noflush_node_port=$node_port
redis_port=$main_redis_port
start_node ${BENCH_NODE_FLAGS:-}
echo "stack: redis :$redis_port (+ :$flush_redis_port for the flusher bench), postgres :$pg_port, node :$node_port (pid $node_pid)"
echo "machine: $(nproc) cores, $(grep 'model name' /proc/cpuinfo | head -1 | cut -d: -f2 | xargs), $(free -m | awk '/Mem:/{print $2}') MB RAM"

"$bin_dir/coupon-bench" --node "127.0.0.1:$node_port" --node-pid "$node_pid" --keys-file "$keys_file" \
  --redis "127.0.0.1:$redis_port" --flush-redis "127.0.0.1:$flush_redis_port" --postgres "$conninfo" \
  --node-noflush "127.0.0.1:$noflush_node_port" --load-bin "$bin_dir/coupon-load" --json "$out/latest.json" --seconds "${BENCH_SECONDS:-8}" \
  --connections "${BENCH_CONNECTIONS:-800}"
