#!/usr/bin/env bash
# Claims/s through one coupond node on standalone Redis vs Redis Cluster with 1 and with 3
# masters, same machine, same run (issue 9 §2). Every Redis runs `appendonly yes`,
# `appendfsync always`; the clusters have no replicas (a replica's work would be counted against
# the cluster on a 2-core box). Each backend gets its own database and node; the load is three
# concurrent coupon-load runs on three fresh campaigns (on a 3-master cluster their slots are
# printed: they may share a master), closed loop, 3 × CLUSTER_BENCH_CONNECTIONS connections,
# CLUSTER_BENCH_SECONDS each (6), every backend twice in ABCCBA order. Needs release binaries (`swift build -c release`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
seconds=${CLUSTER_BENCH_SECONDS:-6}
connections=${CLUSTER_BENCH_CONNECTIONS:-32}
# shellcheck source=../load-tests/stack.sh
. "$root/load-tests/stack.sh"
ulimit -n 8192 2>/dev/null || true

start_cluster_node() {  # sets cnode_port
  cnode_port=$(free_port)
  local bus dir
  bus=$(free_port)
  dir="$run_dir/cluster-$cnode_port"
  mkdir -p "$dir"
  redis-server --port "$cnode_port" --cluster-port "$bus" --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
    --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always --save "" --daemonize no >"$dir/redis.log" 2>&1 &
  stack_pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$cnode_port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "cluster node :$cnode_port did not start"; return 1
}

wait_cluster_ok() {
  for _ in $(seq 1 300); do
    local ok=1
    for port in "$@"; do redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.1
  done
  echo "cluster on $* not ok"; return 1
}

# run_node NAME DB [coupond flags...]: a node with its own database; sets bnode_port, bnode_pid, bkeys.
run_node() {
  local name=$1 db=$2
  shift 2
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "create database $db"
  bnode_port=$(free_port)
  bkeys=$run_dir/keys-$name.env
  local pg="host=127.0.0.1 port=$pg_port dbname=$db user=postgres"
  COUPOND_POSTGRES="$pg" COUPOND_LOG_LEVEL=warning "$bin_dir/coupond" demo --keys-file "$bkeys" "$@" >/dev/null
  COUPOND_POSTGRES="$pg" COUPOND_PORT=$bnode_port COUPOND_LOG_LEVEL=warning "$bin_dir/coupond" serve "$@" >"$run_dir/node-$name.log" 2>&1 &
  stack_pids+=($!)
  bnode_pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$bnode_port/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "node $name did not start:"; tail -20 "$run_dir/node-$name.log"; return 1
}

start_postgres
start_redis
wait_backends
standalone_port=$redis_port
start_cluster_node; one_port=$cnode_port
redis-cli -p "$one_port" cluster addslotsrange 0 16383 >/dev/null
three=()
for _ in 1 2 3; do start_cluster_node; three+=("$cnode_port"); done
redis-cli --cluster create "${three[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$run_dir/create.log" 2>&1
wait_cluster_ok "$one_port" "${three[@]}"

declare -A node_port node_pid node_keys
run_node standalone bench_s --redis "127.0.0.1:$standalone_port"
node_port[standalone]=$bnode_port; node_pid[standalone]=$bnode_pid; node_keys[standalone]=$bkeys
run_node cluster1 bench_c1 --redis-cluster "127.0.0.1:$one_port"
node_port[cluster1]=$bnode_port; node_pid[cluster1]=$bnode_pid; node_keys[cluster1]=$bkeys
run_node cluster3 bench_c3 --redis-cluster "$(IFS=,; echo "${three[*]/#/127.0.0.1:}")"
node_port[cluster3]=$bnode_port; node_pid[cluster3]=$bnode_pid; node_keys[cluster3]=$bkeys
echo "machine: $(nproc) cores; standalone :$standalone_port, 1-master cluster :$one_port, 3-master cluster :${three[*]}"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A rate
declare -A total
# ABCCBA: each backend runs twice, in mirrored order, so drift in the machine's load (and the
# previous run's flusher backlog, given 3 s to drain) weighs on each the same.
round=0
for name in standalone cluster1 cluster3 cluster3 cluster1 standalone; do
  round=$((round + 1))
  sleep 3
  before=$(cpu_ticks "${node_pid[$name]}")
  pids=()
  for k in 1 2 3; do
    "$bin_dir/coupon-load" --target "127.0.0.1:${node_port[$name]}" --keys-file "${node_keys[$name]}" --quiet \
      --label "$name-$round-$k" --create-campaign stock=10000000,limit=1 --users 10000000 --connections "$connections" \
      --duration "$seconds" --json "$run_dir/$name-$round-$k.json" >"$run_dir/$name-$round-$k.out" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  after=$(cpu_ticks "${node_pid[$name]}")
  rate[$name]=$(python3 - "$run_dir" "$name-$round" <<'PY'
import json, sys
total = 0.0
for k in (1, 2, 3):
    total += json.load(open(f"{sys.argv[1]}/{sys.argv[2]}-{k}.json"))["claims_per_second"]
print(int(total))
PY
)
  campaigns=$(python3 -c "import json,sys; print(' '.join(str(json.load(open(f'$run_dir/$name-$round-{k}.json'))['campaign_id']) for k in (1,2,3)))")
  where=""
  if [ "$name" = cluster3 ]; then
    for id in $campaigns; do
      slot=$(redis-cli -p "${three[0]}" cluster keyslot "c:$id")
      owner=$(redis-cli -p "${three[0]}" cluster slots | python3 -c "
import sys
lines=[l.strip() for l in sys.stdin]
# flat RESP dump: start, end, host, port, id ... ; find the range holding the slot
i=0
while i+3 < len(lines):
    if lines[i].isdigit() and lines[i+1].isdigit() and int(lines[i]) <= $slot <= int(lines[i+1]): print(lines[i+3]); break
    i+=1
")
      where="$where c:$id→slot $slot@:$owner"
    done
  fi
  total[$name]=$(( ${total[$name]:-0} + ${rate[$name]} ))
  echo "round $round $name: ${rate[$name]} claims/s (3 campaigns: $campaigns$where), node CPU $(( (after - before) * 10 )) ms"
done
python3 - "${total[standalone]}" "${total[cluster1]}" "${total[cluster3]}" <<'PY'
import sys
s, c1, c3 = (float(x) / 2 for x in sys.argv[1:])
print(f"mean of two runs: standalone {s:.0f}/s, cluster(1 master) {c1:.0f}/s, cluster(3 masters) {c3:.0f}/s")
print(f"ratio cluster(1 master)/standalone = {c1/s:.2f}x; cluster(3 masters)/standalone = {c3/s:.2f}x; 3 masters/1 master = {c3/c1:.2f}x")
PY

# Bulk jobs (issue 12) on each backend: a CLUSTER_BENCH_BULK_LINES-line job (default 100,000;
# 0 skips) on a fresh campaign with that much stock, limit 1, each backend twice in ABCCBA order:
# lines/s from upload to `done`, and the node's CPU per line.
bulk_lines=${CLUSTER_BENCH_BULK_LINES:-100000}
[ "$bulk_lines" -gt 0 ] || exit 0
seq -f 'b%.0f' 1 "$bulk_lines" >"$run_dir/bulk-users.txt"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
declare -A bulk_total
round=0
for name in standalone cluster1 cluster3 cluster3 cluster1 standalone; do
  round=$((round + 1))
  sleep 3
  admin=$(sed -n 's/^COUPOND_ADMIN_KEY=//p' "${node_keys[$name]}")
  api() { curl -sS -H "Authorization: Bearer $admin" "$@"; }
  base="http://127.0.0.1:${node_port[$name]}"
  template=$(api -X POST "$base/v1/templates" -d '{"name":"bulk","currency":"CNY","kind":"amount_off","threshold":0,"amount":500,"validity":{"type":"relative","days":30}}' | json 'd["id"]')
  now=$(date -u +%s)
  campaign=$(api -X POST "$base/v1/campaigns" -d "{\"template_id\":$template,\"name\":\"bulk-$round\",\"stock\":$bulk_lines,\"per_user_limit\":1,
    \"claim_start\":\"$(date -u -d @$((now - 60)) +%FT%TZ)\",\"claim_end\":\"$(date -u -d @$((now + 86400)) +%FT%TZ)\"}" | json 'd["id"]')
  before=$(cpu_ticks "${node_pid[$name]}")
  t0=$(date +%s.%N)
  job=$(api -X POST --data-binary @"$run_dir/bulk-users.txt" "$base/v1/campaigns/$campaign/bulk-grants" | json 'd["id"]')
  state=queued
  while [ "$state" != done ]; do
    sleep 0.1
    state=$(api "$base/v1/jobs/$job" | json 'd["state"]')
    case $state in cancelled|failed) echo "bulk job on $name: $state"; exit 1 ;; esac
  done
  t1=$(date +%s.%N)
  after=$(cpu_ticks "${node_pid[$name]}")
  granted=$(api "$base/v1/jobs/$job" | json 'd["granted"]')
  [ "$granted" = "$bulk_lines" ] || { echo "bulk job on $name granted $granted of $bulk_lines"; exit 1; }
  per_s=$(echo "$bulk_lines / ($t1 - $t0)" | bc)
  bulk_total[$name]=$(( ${bulk_total[$name]:-0} + per_s ))
  echo "bulk round $round $name: $bulk_lines lines in $(echo "$t1 - $t0" | bc) s = $per_s lines/s, node CPU $(echo "scale=1; ($after - $before) * 10000 / $bulk_lines" | bc) µs/line"
done
python3 - "${bulk_total[standalone]}" "${bulk_total[cluster1]}" "${bulk_total[cluster3]}" <<'PY'
import sys
s, c1, c3 = (float(x) / 2 for x in sys.argv[1:])
print(f"bulk lines/s, mean of two runs: standalone {s:.0f}, cluster(1 master) {c1:.0f}, cluster(3 masters) {c3:.0f}")
print(f"bulk ratio cluster(1 master)/standalone = {c1/s:.2f}x; cluster(3 masters)/standalone = {c3/s:.2f}x")
PY
