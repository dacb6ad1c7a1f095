#!/usr/bin/env bash
# Node CPU per granted claim vs one nginx worker's CPU per static 200, same wrk settings, same
# run (issue 15). One node with one loop and no flusher (the claim path alone: HTTP → Redis →
# reply); nginx 1 worker. Turns nginx, node, nginx, node (EFF_SECONDS each, 5 by default,
# EFF_CONNECTIONS 64); CPU from /proc/PID/stat over each turn. Prints each turn and the ratio
# of the means. Needs release binaries, wrk and nginx (`make bench-tools`). ≈ 30 s.
# EFF_COMPARE_BIN=DIR adds a node from DIR/coupond (e.g. a build of the previous commit) to
# every round, for a same-run before/after figure.
set -euo pipefail
. "$(dirname "$0")/common.sh"
seconds=${EFF_SECONDS:-5}
connections=${EFF_CONNECTIONS:-64}
start_stack
start_nginx
start_node --flusher false --loops 1 ${EFF_NODE_FLAGS:-}
node_url=http://127.0.0.1:$node_port$CLAIM_PATH
if [ -n "${EFF_COMPARE_BIN:-}" ]; then
  own_bin=$bin_dir
  main_node_pid=$node_pid
  bin_dir=$EFF_COMPARE_BIN start_node --flusher false --loops 1 ${EFF_NODE_FLAGS:-}
  bin_dir=$own_bin
  compare_pid=$node_pid
  compare_url=http://127.0.0.1:$node_port$CLAIM_PATH
  node_pid=$main_node_pid
  CLAIM_PREFIX=warmc wrk -t 1 -c "$connections" -d 1s -s "$here/wrk-claim.lua" "$compare_url" >/dev/null
fi
nginx_url=http://127.0.0.1:$nginx_port/
# Warm both up (connections, caches, the script in Redis).
CLAIM_PREFIX=warm wrk -t 1 -c "$connections" -d 1s -s "$here/wrk-claim.lua" "$node_url" >/dev/null
wrk -t 1 -c "$connections" -d 1s "$nginx_url" >/dev/null
rows=()
for round in 1 2; do
  read -r total ok cpu rps p99 <<<"$(wrk_run "$nginx_url" "$seconds" "$connections" "$nginx_pid")"
  echo "round $round nginx: $ok × 200 of $total, $rps req/s, p99 $p99 ms, $cpu µs CPU/request"
  rows+=("nginx $cpu")
  read -r total ok cpu rps p99 <<<"$(CLAIM_PREFIX=r$round wrk_run "$node_url" "$seconds" "$connections" "$node_pid" "$here/wrk-claim.lua")"
  echo "round $round node:  $ok granted of $total, $rps claims/s, p99 $p99 ms, $cpu µs CPU/granted claim"
  rows+=("node $cpu")
  if [ -n "${EFF_COMPARE_BIN:-}" ]; then
    read -r total ok cpu rps p99 <<<"$(CLAIM_PREFIX=c$round wrk_run "$compare_url" "$seconds" "$connections" "$compare_pid" "$here/wrk-claim.lua")"
    echo "round $round compare node ($EFF_COMPARE_BIN):  $ok granted of $total, $rps claims/s, p99 $p99 ms, $cpu µs CPU/granted claim"
    rows+=("compare $cpu")
  fi
done
printf '%s\n' "${rows[@]}" >"$run_dir/rows.txt"
python3 - "$run_dir/rows.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def mean(kind):
    values = [float(v) for n, v in rows if n == kind]
    return sum(values) / len(values)
node, nginx = mean("node"), mean("nginx")
print(f"node CPU per granted claim {node:.2f} µs, nginx per static 200 {nginx:.2f} µs: ratio {node / nginx:.2f}x (target <= 1.0x)")
if any(n == "compare" for n, _ in rows):
    compare = mean("compare")
    print(f"compare node {compare:.2f} µs per granted claim ({compare / nginx:.2f}x nginx); this node / compare node {node / compare:.2f}x")
PY
