#!/usr/bin/env bash
# Node CPU per granted claim vs one nginx worker's CPU per static 200, same wrk settings, same
# run (issue 15). One node with one loop and no flusher (the claim path alone: HTTP → Redis →
# reply); nginx 1 worker. Turns nginx, node, nginx, node (EFF_SECONDS each, 5 by default,
# EFF_CONNECTIONS 64); CPU from /proc/PID/stat over each turn. Prints each turn and the ratio
# of the means. Needs release binaries, wrk and nginx (`make bench-tools`). ≈ 30 s.
# EFF_COMPARE_BIN=DIR adds a node from DIR/coupond (e.g. a build of the previous commit) to
# every round, for a same-run before/after figure.
# Then the same comparison at one request rate for both (EFF_SAME_RATE/s; by default half the
# node's slowest closed-loop round, so the node keeps up; 0 skips it): `coupon-load --rate`
# sends an open loop of claims to the node and of the same requests to nginx (a static 200), so
# neither gets the batching a saturating closed loop gives the faster server — is the ratio an
# artefact of nginx running 5–10× more requests per second? Each section prints the steal share.
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
  main_node_pid=$node_pid main_node_port=$node_port
  bin_dir=$EFF_COMPARE_BIN start_node --flusher false --loops 1 ${EFF_NODE_FLAGS:-}
  bin_dir=$own_bin
  compare_pid=$node_pid
  compare_url=http://127.0.0.1:$node_port$CLAIM_PATH
  node_pid=$main_node_pid node_port=$main_node_port
  CLAIM_PREFIX=warmc wrk -t 1 -c "$connections" -d 1s -s "$here/wrk-claim.lua" "$compare_url" >/dev/null
fi
nginx_url=http://127.0.0.1:$nginx_port/
# Warm both up (connections, caches, the script in Redis).
CLAIM_PREFIX=warm wrk -t 1 -c "$connections" -d 1s -s "$here/wrk-claim.lua" "$node_url" >/dev/null
wrk -t 1 -c "$connections" -d 1s "$nginx_url" >/dev/null
rows=()
node_rates=()
ticks_start=$(machine_ticks)
for round in 1 2; do
  read -r total ok cpu rps p99 <<<"$(wrk_run "$nginx_url" "$seconds" "$connections" "$nginx_pid")"
  echo "round $round nginx: $ok × 200 of $total, $rps req/s, p99 $p99 ms, $cpu µs CPU/request"
  rows+=("nginx $cpu")
  read -r total ok cpu rps p99 <<<"$(CLAIM_PREFIX=r$round wrk_run "$node_url" "$seconds" "$connections" "$node_pid" "$here/wrk-claim.lua")"
  echo "round $round node:  $ok granted of $total, $rps claims/s, p99 $p99 ms, $cpu µs CPU/granted claim"
  rows+=("node $cpu")
  node_rates+=("$rps")
  if [ -n "${EFF_COMPARE_BIN:-}" ]; then
    read -r total ok cpu rps p99 <<<"$(CLAIM_PREFIX=c$round wrk_run "$compare_url" "$seconds" "$connections" "$compare_pid" "$here/wrk-claim.lua")"
    echo "round $round compare node ($EFF_COMPARE_BIN):  $ok granted of $total, $rps claims/s, p99 $p99 ms, $cpu µs CPU/granted claim"
    rows+=("compare $cpu")
  fi
done
echo "the hypervisor stole $(steal_share "$ticks_start" "$(machine_ticks)") % of the machine's CPU time during these rounds (/proc/stat steal)"
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
same_rate=${EFF_SAME_RATE:-$(printf '%s\n' "${node_rates[@]}" | sort -n | head -1 | awk '{print int($1 / 2)}')}
[ "$same_rate" != 0 ] || exit 0
open_run() { # open_run PORT PID LABEL coupon-load-flags... → prints "µs CPU per request, p99 ms"
  local port=$1 pid=$2 label=$3 before after
  shift 3
  before=$(cpu_ticks "$pid")
  "$bin_dir/coupon-load" --target "127.0.0.1:$port" --keys-file "$keys_file" "$@" --users 200000 --claims-per-user 1000 \
    --connections "$connections" --duration "$seconds" --rate "$same_rate" --quiet --json "$run_dir/$label.json" >/dev/null
  after=$(cpu_ticks "$pid")
  python3 - "$run_dir/$label.json" "$before" "$after" "$clk_tck" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
ok = sum(n for outcome, n in report["outcomes"].items() if outcome.startswith(("200", "201")))
assert ok > 0, report["outcomes"]
print(f"{(int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4]) * 1e6 / ok:.2f} {report['latency_ms']['p99']:.2f}")
PY
}
same=()
ticks_start=$(machine_ticks)
for round in 1 2; do
  read -r cpu p99 <<<"$(open_run "$nginx_port" "$nginx_pid" "same-nginx-$round" --campaign 1)"
  echo "round $round at $same_rate/s open loop, nginx: $cpu µs CPU/request, p99 $p99 ms"
  same+=("nginx $cpu")
  read -r cpu p99 <<<"$(open_run "$node_port" "$node_pid" "same-node-$round" --create-campaign stock=100000000,limit=1000)"
  echo "round $round at $same_rate/s open loop, node:  $cpu µs CPU/granted claim, p99 $p99 ms"
  same+=("node $cpu")
done
echo "the hypervisor stole $(steal_share "$ticks_start" "$(machine_ticks)") % of the machine's CPU time during these rounds"
printf '%s\n' "${same[@]}" >"$run_dir/same.txt"
python3 - "$run_dir/same.txt" "$same_rate" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
mean = lambda kind: sum(float(v) for n, v in rows if n == kind) / len([1 for n, _ in rows if n == kind])
print(f"at the same rate ({sys.argv[2]}/s): node {mean('node'):.2f} µs per granted claim, nginx {mean('nginx'):.2f} µs per static 200: ratio {mean('node') / mean('nginx'):.2f}x")
PY
