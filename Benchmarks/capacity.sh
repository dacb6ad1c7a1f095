#!/usr/bin/env bash
# Figures for the capacity model (Benchmarks/README.md "Capacity model", issue 10): on a
# 3-master Redis Cluster (no replicas, appendonly yes, appendfsync always) with one node whose
# flusher is off, closed-loop claims on 1 campaign (one master busy), then on 3 campaigns on 3
# different masters; per round: claims/s, node CPU per claim, Redis CPU per granted claim on each
# master (from /proc/PID/stat). Then a node with only the flusher drains everything granted into
# PostgreSQL: rows/s and PostgreSQL CPU per row. Release binaries (`swift build -c release`);
# CAPACITY_SECONDS (8) per round, CAPACITY_CONNECTIONS (48) per campaign.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
seconds=${CAPACITY_SECONDS:-8}
connections=${CAPACITY_CONNECTIONS:-48}
# shellcheck source=../load-tests/stack.sh
. "$root/load-tests/stack.sh"
ulimit -n 8192 2>/dev/null || true
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU ticks of a process and all its children (PostgreSQL's backends).
tree_ticks() {
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" || true); do total=$((total + $(ticks "$pid" 2>/dev/null || echo 0))); done
  echo "$total"
}

start_postgres
start_redis  # unused by the cluster rounds; wait_backends needs it
wait_backends
masters=()
master_pids=()
for _ in 1 2 3; do
  port=$(free_port)
  bus=$(free_port)
  mkdir -p "$run_dir/c-$port"
  redis-server --port "$port" --cluster-port "$bus" --cluster-enabled yes --cluster-config-file "$run_dir/c-$port/nodes.conf" \
    --bind 127.0.0.1 --dir "$run_dir/c-$port" --appendonly yes --appendfsync always --save "" --daemonize no \
    >"$run_dir/c-$port.log" 2>&1 &
  stack_pids+=($!)
  master_pids+=($!)
  masters+=("$port")
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
redis-cli --cluster create "${masters[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$run_dir/create.log" 2>&1
for _ in $(seq 1 300); do
  ok=1
  for port in "${masters[@]}"; do redis-cli -p "$port" cluster info | grep -q cluster_state:ok || ok=0; done
  [ $ok = 1 ] && break
  sleep 0.1
done
seeds=$(IFS=,; echo "${masters[*]/#/127.0.0.1:}")
export COUPOND_REDIS_CLUSTER=$seeds COUPOND_POSTGRES=$conninfo COUPOND_LOG_LEVEL=warning
keys=$run_dir/keys.env
"$bin_dir/coupond" demo --keys-file "$keys" >/dev/null
# shellcheck disable=SC1090
. "$keys"
node_port=$(free_port)
COUPOND_PORT=$node_port COUPOND_FLUSHER=false COUPOND_NODE_ID=claims "$bin_dir/coupond" serve >"$run_dir/node.log" 2>&1 &
stack_pids+=($!)
node_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$node_port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

# Campaigns until one sits on each master (its meta key answers EXISTS 1 only there).
declare -A on_master
now_ms=$(($(date +%s) * 1000))
template=$(curl -sf -X POST "http://127.0.0.1:$node_port/v1/templates" -H "Authorization: Bearer $COUPOND_ADMIN_KEY" \
  -d '{"name":"capacity","currency":"CNY","kind":"amount_off","threshold":20000,"amount":3000,"validity":{"type":"relative","days":7}}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 40); do
  id=$(curl -sf -X POST "http://127.0.0.1:$node_port/v1/campaigns" -H "Authorization: Bearer $COUPOND_ADMIN_KEY" \
    -d "{\"template_id\":$template,\"name\":\"cap\",\"stock\":100000000,\"per_user_limit\":1,\"claim_start\":\"$(date -u -d @$((now_ms / 1000 - 60)) +%FT%TZ)\",\"claim_end\":\"$(date -u -d @$((now_ms / 1000 + 86400)) +%FT%TZ)\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for i in 0 1 2; do
    [ "$(redis-cli -p "${masters[i]}" exists "cp:{c:$id}:meta" 2>/dev/null)" = 1 ] && [ -z "${on_master[$i]:-}" ] && on_master[$i]=$id
  done
  [ ${#on_master[@]} = 3 ] && break
done
[ ${#on_master[@]} = 3 ] || { echo "no campaign on every master"; exit 1; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); masters :${masters[*]}; campaigns ${on_master[0]} ${on_master[1]} ${on_master[2]}"

round() {  # round LABEL CAMPAIGN...
  local label=$1
  shift
  local before_node before_masters=() pids=() k=0
  before_node=$(ticks "$node_pid")
  for pid in "${master_pids[@]}"; do before_masters+=("$(ticks "$pid")"); done
  for campaign in "$@"; do
    k=$((k + 1))
    "$bin_dir/coupon-load" --target "127.0.0.1:$node_port" --keys-file "$keys" --quiet --label "$label-$k" \
      --campaign "$campaign" --users 100000000 --connections "$connections" --duration "$seconds" \
      --json "$run_dir/$label-$k.json" >"$run_dir/$label-$k.out" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  local node_ticks=$(($(ticks "$node_pid") - before_node))
  local master_ticks=()
  for i in 0 1 2; do master_ticks+=($(($(ticks "${master_pids[i]}") - before_masters[i]))); done
  python3 - "$run_dir" "$label" "$#" "$hz" "$node_ticks" "${master_ticks[@]}" <<'PY'
import json, sys
run_dir, label, n, hz, node = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
masters = [int(x) for x in sys.argv[6:9]]
rate = granted = 0.0
for k in range(1, n + 1):
    report = json.load(open(f"{run_dir}/{label}-{k}.json"))
    rate += report["claims_per_second"]
    granted += report.get("outcomes", {}).get("201", 0)
seconds_cpu = lambda t: t / hz
per = lambda t: (seconds_cpu(t) * 1e6 / granted) if granted else float("nan")
busy = [f"{per(t):.1f}" for t in masters]
print(f"{label}: {rate:.0f} claims/s, {granted:.0f} granted; node CPU {per(node):.1f} µs/claim "
      f"({seconds_cpu(node):.1f} s); Redis CPU µs per granted claim on masters 1/2/3: {' / '.join(busy)} "
      f"(CPU s: {' / '.join(f'{seconds_cpu(t):.2f}' for t in masters)})")
PY
}
round one-master "${on_master[0]}"
round three-masters "${on_master[0]}" "${on_master[1]}" "${on_master[2]}"
round one-master-again "${on_master[1]}"

# The flusher alone: drain what the rounds granted into PostgreSQL.
granted=0
for id in "${on_master[@]}"; do
  for port in "${masters[@]}"; do
    n=$(redis-cli -p "$port" hget "cp:{c:$id}:meta" issued 2>/dev/null || true)
    [[ "$n" =~ ^[0-9]+$ ]] && granted=$((granted + n))
  done
done
pg_before=$(tree_ticks "$pg_pid")
flusher_port=$(free_port)
started=$(date +%s.%N)
COUPOND_PORT=$flusher_port COUPOND_NODE_ID=flusher COUPOND_LOOPS=1 "$bin_dir/coupond" serve >"$run_dir/flusher.log" 2>&1 &
stack_pids+=($!)
flusher_pid=$!
for _ in $(seq 1 1200); do
  rows=$(psql -h 127.0.0.1 -p "$pg_port" -U postgres -d coupond -Atc 'select count(*) from coupons')
  [ "$rows" -ge "$granted" ] && break
  sleep 0.25
done
elapsed=$(python3 -c "import time; print(time.time() - $started)")
pg_ticks=$(($(tree_ticks "$pg_pid") - pg_before))
flusher_ticks=$(ticks "$flusher_pid")
python3 - "$granted" "$rows" "$elapsed" "$pg_ticks" "$flusher_ticks" "$hz" <<'PY'
import sys
granted, rows, elapsed, pg, fl, hz = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print(f"flusher: {rows} of {granted} grants into PostgreSQL in {elapsed:.1f} s (incl. node start) = {rows/elapsed:.0f} rows/s; "
      f"PostgreSQL CPU {pg/hz*1e6/max(rows,1):.1f} µs/row, flusher node CPU {fl/hz*1e6/max(rows,1):.1f} µs/row")
PY
