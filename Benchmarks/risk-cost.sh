#!/usr/bin/env bash
# What risk control costs on the claim path (issue 8): one Redis, one PostgreSQL, two nodes
# (flusher off on both: the claim path alone), one with the shipped limits and one with every
# limit off; coupon-load closed loop against each in turn, alternating, every claim a new user
# (a per-user bucket per claim: the limiter's worst case). ≈ 20 s. Prints FIGURE lines.
# Needs release binaries: swift build -c release --product coupond && swift build -c release --product coupon-load
# (SwiftPM builds only the last of several --product flags).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
rounds=${RISK_ROUNDS:-6}
seconds=${RISK_SECONDS:-1.5}
connections=${RISK_CONNECTIONS:-64}
# shellcheck source=../load-tests/stack.sh
. "$root/load-tests/stack.sh"
ulimit -n 8192 2>/dev/null || true

# Redis without fsync here: the figure is the node's CPU cost, and fsync waits only add noise.
redis_port=$(free_port)
mkdir -p "$run_dir/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run_dir/redis" --appendonly no --save "" \
  --daemonize no >"$run_dir/redis.log" 2>&1 &
stack_pids+=($!)
start_postgres
wait_backends
start_node --flusher false
on_port=$node_port
start_node --flusher false --claim-user-rate 0 --key-rate 0 --address-rate 0 --code-miss-rate 0 --auth-failure-rate 0
off_port=$node_port

run() {  # run LABEL PORT → appends claims/s and p99 ms to $run_dir/LABEL
  local json=$run_dir/$1-$RANDOM.json
  "$bin_dir/coupon-load" --target "127.0.0.1:$2" --keys-file "$keys_file" --create-campaign stock=100000000,limit=1 \
    --users 100000000 --connections "$connections" --duration "$seconds" --quiet --label "$1" --json "$json" >/dev/null
  python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(o["claims_per_second"], o["latency_ms"]["p99"])' "$json" >>"$run_dir/$1"
}
for _ in $(seq 1 "$rounds"); do
  run on "$on_port"
  run off "$off_port"
done
python3 - "$run_dir/on" "$run_dir/off" "$rounds" "$seconds" "$connections" <<'PY'
import sys
def load(path):
    rows = [tuple(map(float, line.split())) for line in open(path)]
    return sum(r[0] for r in rows) / len(rows), sorted(r[1] for r in rows)[len(rows) // 2], rows
on_rate, on_p99, on_rows = load(sys.argv[1])
off_rate, off_p99, off_rows = load(sys.argv[2])
pairs = sorted(a[0] / b[0] for a, b in zip(on_rows, off_rows))
p99_pairs = sorted(a[1] / b[1] for a, b in zip(on_rows, off_rows))
print(f"FIGURE: claims/s limits on {on_rate:.0f} vs off {off_rate:.0f} (mean ratio {on_rate / off_rate:.3f}, "
      f"median per-round ratio {pairs[len(pairs) // 2]:.3f}); claim p99 on {on_p99:.2f} ms vs off {off_p99:.2f} ms "
      f"(median of rounds; median per-round ratio {p99_pairs[len(p99_pairs) // 2]:.3f}); "
      f"{sys.argv[3]} alternating rounds of {sys.argv[4]} s, {sys.argv[5]} connections, release build")
print("rounds on  (claims/s, p99 ms):", " ".join(f"{r:.0f}/{p:.2f}" for r, p in on_rows))
print("rounds off (claims/s, p99 ms):", " ".join(f"{r:.0f}/{p:.2f}" for r, p in off_rows))
PY
