#!/usr/bin/env bash
# A hot campaign with `shards: 1` vs `shards: 3` on a 3-master Redis Cluster, same run
# (issue 10 §1; README "Sharded hot campaigns"). Every master runs `appendonly yes`,
# `appendfsync always`, no replicas. One coupond node (release build) on the cluster, its own
# database. Two phases, each a closed-loop coupon-load run of SHARD_BENCH_SECONDS (6) with
# SHARD_BENCH_CONNECTIONS (64) connections, limit 1, 10M distinct users:
#  A. throughput: stock never runs out; order s1 s3 s3 s1 (mean of two each): claims/s and the
#     Redis CPU per claim on each master (utime+stime of /proc/PID/stat over the run);
#  B. sell-out: stock SHARD_BENCH_STOCK (6000, about half a run's claims here) sold to the end: claims/s, transfers per 1,000
#     claims (Σ HLEN xin over the shards), units moved, remaining after, and the longest window
#     in which a claim was refused (sold_out) while a later claim was still granted (client clock,
#     so it includes response latency), the node's count of claims refused after the last
#     rebalance attempt while stock was elsewhere (`coupond_shard_refused_with_stock_total`); once with
#     uniform users and once with `--shard-skew 3` (two users in three homed on shard 0, ≈ 78% of
#     the demand on one third of the stock).
# Bounded: ≈ 6 runs × 6 s + start-up. Needs release binaries (`swift build -c release`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
seconds=${SHARD_BENCH_SECONDS:-6}
connections=${SHARD_BENCH_CONNECTIONS:-64}
sellout_stock=${SHARD_BENCH_STOCK:-6000}
# shellcheck source=../load-tests/stack.sh
. "$root/load-tests/stack.sh"
ulimit -n 8192 2>/dev/null || true

start_cluster_node() {  # sets cnode_port, cnode_pid
  cnode_port=$(free_port)
  local bus dir
  bus=$(free_port)
  dir="$run_dir/cluster-$cnode_port"
  mkdir -p "$dir"
  redis-server --port "$cnode_port" --cluster-port "$bus" --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
    --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always --save "" --daemonize no >"$dir/redis.log" 2>&1 &
  stack_pids+=($!)
  cnode_pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$cnode_port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "cluster node :$cnode_port did not start"; return 1
}

start_postgres
for _ in $(seq 1 150); do psql -h 127.0.0.1 -p "$pg_port" -U postgres -Atc 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc 'create database coupond'
ports=(); pids=()
for _ in 1 2 3; do start_cluster_node; ports+=("$cnode_port"); pids+=("$cnode_pid"); done
redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$run_dir/create.log" 2>&1
for _ in $(seq 1 300); do
  ok=1; for p in "${ports[@]}"; do redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0; done
  [ $ok = 1 ] && break; sleep 0.1
done
seeds=$(IFS=,; echo "${ports[*]/#/127.0.0.1:}")
node_port=$(free_port)
keys_file=$run_dir/keys.env
export COUPOND_POSTGRES="$conninfo" COUPOND_LOG_LEVEL=warning
"$bin_dir/coupond" demo --keys-file "$keys_file" --redis-cluster "$seeds" >/dev/null
COUPOND_PORT=$node_port "$bin_dir/coupond" serve --redis-cluster "$seeds" >"$run_dir/node.log" 2>&1 &
stack_pids+=($!)
node_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$node_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
admin=$(grep '^COUPOND_ADMIN_KEY=' "$keys_file" | cut -d= -f2-)
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); masters :${ports[*]} (pids ${pids[*]}); node :$node_port"

template=$(curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "http://127.0.0.1:$node_port/v1/templates" \
  -d '{"name":"bench","currency":"CNY","kind":"amount_off","threshold":20000,"amount":3000,"validity":{"type":"relative","days":7}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
create_campaign() {  # shards stock → id
  local start end
  start=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ); end=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
  curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "http://127.0.0.1:$node_port/v1/campaigns" \
    -d "{\"template_id\":$template,\"name\":\"hot\",\"stock\":$2,\"per_user_limit\":1,\"shards\":$1,\"claim_start\":\"$start\",\"claim_end\":\"$end\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
refused_with_stock() { curl -sf "http://127.0.0.1:$node_port/metrics" | awk '/^coupond_shard_refused_with_stock_total/{print $2}'; }
ticks() { for pid in "${pids[@]}"; do awk '{printf "%d ", $14 + $15}' "/proc/$pid/stat"; done; }
# where ID: the master port holding each shard's meta; moved ID: "transfers units" over every shard.
where() {
  local out=""
  for p in "${ports[@]}"; do
    for key in $(redis-cli -p "$p" --scan --pattern "cp:{c:$1}:meta"; redis-cli -p "$p" --scan --pattern "cp:{c:$1.s*:meta"); do
      out="$out ${key#cp:}@:$p"
    done
  done
  echo "$out"
}
moved() {
  local transfers=0 units=0 remaining=0
  for p in "${ports[@]}"; do
    for key in $(redis-cli -p "$p" --scan --pattern "cp:{c:$1}:meta"; redis-cli -p "$p" --scan --pattern "cp:{c:$1.s*:meta"); do
      local base=${key%:meta}
      transfers=$((transfers + $(redis-cli -p "$p" hlen "$base:xin")))
      units=$((units + $(redis-cli -p "$p" hget "$key" xin | sed 's/^$/0/')))
      remaining=$((remaining + $(redis-cli -p "$p" get "$base:stock")))
    done
  done
  echo "$transfers $units $remaining"
}

# run LABEL SHARDS STOCK [coupon-load flags]: one coupon-load run on a fresh campaign; appends a JSON line to $run_dir/results.jsonl.
run() {
  local label=$1 shards=$2 stock=$3 id before after
  shift 3
  id=$(create_campaign "$shards" "$stock")
  sleep 2
  before=$(ticks); refused_before=$(refused_with_stock)
  "$bin_dir/coupon-load" --target "127.0.0.1:$node_port" --keys-file "$keys_file" --quiet --label "$label" --campaign "$id" \
    --users 10000000 --connections "$connections" --duration "$seconds" --json "$run_dir/$label.json" "$@" >"$run_dir/$label.out" 2>&1 || true
  after=$(ticks)
  python3 - "$run_dir/$label.json" "$label" "$shards" "$stock" "$before" "$after" "$(moved "$id")" "$(where "$id")" \
    "$(( $(refused_with_stock) - refused_before ))" >>"$run_dir/results.jsonl" <<'PY'
import json, sys
path, label, shards, stock, before, after, moved, where, refused = sys.argv[1:]
r = json.load(open(path))
b, a = [int(x) for x in before.split()], [int(x) for x in after.split()]
answered = max(1, r["answered"])
transfers, units, remaining = (int(x) for x in moved.split())
granted = r["outcomes"].get("201", 0)
print(json.dumps({
    "label": label, "shards": int(shards), "stock": int(stock), "claims_per_second": r["claims_per_second"],
    "answered": r["answered"], "granted": granted, "sold_out": r["outcomes"].get("409 sold_out", 0),
    "redis_cpu_us_per_claim": [round((y - x) * 10_000 / answered, 2) for x, y in zip(b, a)],
    "transfers": transfers, "units_moved": units, "remaining_after": remaining,
    "transfers_per_1000_claims": round(transfers * 1000 / answered, 3),
    "transfers_per_1000_grants": round(transfers * 1000 / max(1, granted), 3),
    "refused_while_stock_window_ms": r.get("refused_while_stock_window_ms", 0), "where": where.strip(),
    "refused_with_stock_node": int(refused),
    "p99_ms": r["latency_ms"]["p99"],
}))
PY
  tail -1 "$run_dir/results.jsonl"
}

for label in a1-s1 a2-s3 a3-s3 a4-s1; do run "$label" "${label#*-s}" 10000000; done
for label in b1-s1 b2-s3; do run "$label" "${label#*-s}" "$sellout_stock"; done
run b3-s3-skewed 3 "$sellout_stock" --shard-skew 3

python3 - "$run_dir/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def mean(rs, key): return sum(r[key] for r in rs) / len(rs)
a1 = [r for r in rows if r["label"].startswith("a") and r["shards"] == 1]
a3 = [r for r in rows if r["label"].startswith("a") and r["shards"] == 3]
c1, c3 = mean(a1, "claims_per_second"), mean(a3, "claims_per_second")
# Per run: each master's Redis CPU per claim (µs), the busiest master's, and the sum; then means.
def busiest(rs): return sum(max(r["redis_cpu_us_per_claim"]) for r in rs) / len(rs)
def total(rs): return sum(sum(r["redis_cpu_us_per_claim"]) for r in rs) / len(rs)
print("A. throughput (stock never runs out), mean of two runs each:")
for name, rs, c in (("1", a1, c1), ("3", a3, c3)):
    per = "; ".join(str(r["redis_cpu_us_per_claim"]) for r in rs)
    print(f"   shards: {name}  {c:8.0f} claims/s   Redis CPU µs/claim on each master, per run: {per}  busiest {busiest(rs):.1f}, sum {total(rs):.1f}")
print(f"   ratio shards 3 / shards 1: claims/s {c3 / c1:.2f}x; busiest master's CPU per claim {busiest(a3) / busiest(a1):.2f}x "
      f"(hot-campaign ceiling at one core per master: {1e6 / busiest(a1):.0f} → {1e6 / busiest(a3):.0f} claims/s); total Redis CPU per claim {total(a3) / total(a1):.2f}x")
print("B. sell-out:")
for r in rows:
    if r["label"].startswith("b"):
        print(f"   {r['label']}: shards: {r['shards']}  stock {r['stock']}: {r['claims_per_second']:.0f} claims/s, granted {r['granted']}, remaining after {r['remaining_after']}, "
              f"transfers {r['transfers']} ({r['transfers_per_1000_claims']} per 1,000 claims, {r['transfers_per_1000_grants']} per 1,000 grants, {r['units_moved']} units moved), "
              f"sold_out after the last attempt with stock elsewhere (node count) {r['refused_with_stock_node']}, "
              f"client-seen window first sold_out → last 201 {r['refused_while_stock_window_ms']:.1f} ms (includes response latency, p99 {r['p99_ms']:.0f} ms), shards at {r['where']}")
PY
