#!/usr/bin/env bash
# `make loadtest`: a short, bounded flash sale on loopback against a fresh Redis + PostgreSQL +
# one coupond node, then the guarantees checked. Scenarios (each ≤ ~15 s of load):
#   1. closed loop, uniform users, stock < demand (sells out), limit 2
#   2. closed loop, zipf users (hot users hit their limit)
#   3. open loop at a fixed rate (latency from the scheduled send time)
# Results: load-tests/results/*.json and *.svg. Exit status non-zero on any violation.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
out=${LOADTEST_OUT:-$root/load-tests/results}
rate=${LOADTEST_RATE:-10000}
mkdir -p "$out"
# shellcheck source=stack.sh
. "$root/load-tests/stack.sh"

start_redis
start_postgres
wait_backends
start_node
echo "stack: redis :$redis_port, postgres :$pg_port, node :$node_port (pid $node_pid), dir $run_dir"

load() { "$bin_dir/coupon-load" --target "127.0.0.1:$node_port" --keys-file "$keys_file" \
  --redis "127.0.0.1:$redis_port" --postgres "$conninfo" --quiet "$@"; }

status=0
load --label closed-uniform --create-campaign stock=50000,limit=2 --users 40000 --claims-per-user 2 \
  --connections 64 --duration 15 --json "$out/closed-uniform.json" --svg "$out/closed-uniform.svg" || status=1
echo
load --label closed-zipf --create-campaign stock=30000,limit=3 --users 20000 --distribution zipf --claims-per-user 3 \
  --connections 64 --duration 10 --json "$out/closed-zipf.json" --svg "$out/closed-zipf.svg" || status=1
echo
load --label open-loop --create-campaign stock=1000000,limit=1 --users 1000000 --rate "$rate" \
  --connections 128 --duration 10 --json "$out/open-loop.json" --svg "$out/open-loop.svg" || status=1
echo
echo "node VmRSS: $(grep VmRSS /proc/$node_pid/status | awk '{print $2, $3}')"
[ $status = 0 ] && echo "loadtest: all guarantees held" || echo "loadtest: VIOLATIONS (see above)"
exit $status
