#!/usr/bin/env bash
# The console's per-second claim series (issue 14) costs what? One Redis and PostgreSQL, two
# nodes that differ only in --claim-series (true/false), no flushers (the claim path alone);
# coupon-load drives them in turns A B, B A, A B (SERIES_ROUNDS rounds of SERIES_SECONDS each,
# 3 × 2 s by default), each turn on a fresh campaign; prints claims/s and p99 per turn and the
# means. Needs release binaries (`swift build -c release`). Bounded: about 2 × rounds × (seconds + 1.5) s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
seconds=${SERIES_SECONDS:-2}
rounds=${SERIES_ROUNDS:-3}
connections=${SERIES_CONNECTIONS:-64}
# shellcheck source=../load-tests/stack.sh
. "$root/load-tests/stack.sh"
ulimit -n 8192 2>/dev/null || true

start_redis
start_postgres
wait_backends
start_node --flusher false --claim-series true --loops 1
with_port=$node_port
declare -A pid_of
pid_of[$node_port]=$node_pid
start_node --flusher false --claim-series false --loops 1
without_port=$node_port
pid_of[$node_port]=$node_pid

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # the node's user + system CPU, in clock ticks
evalsha_calls() { redis-cli -p "$redis_port" info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'; }
run() { # run PORT LABEL
  local before; before=$(evalsha_calls)
  local cpu_before; cpu_before=$(cpu_ticks "${pid_of[$1]}")
  "$bin_dir/coupon-load" --target "127.0.0.1:$1" --keys-file "$keys_file" --create-campaign stock=100000000,limit=1000 \
    --users 200000 --claims-per-user 1000 --connections "$connections" --duration "$seconds" --quiet --json "$run_dir/$2.json" >/dev/null
  local after; after=$(evalsha_calls)
  local cpu_after; cpu_after=$(cpu_ticks "${pid_of[$1]}")
  python3 - "$run_dir/$2.json" "$2" "$((after - before))" "$((cpu_after - cpu_before))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
answered = max(report['answered'], 1)
cpu_us = int(sys.argv[4]) / int(sys.argv[5]) * 1e6 / answered
print(f"{sys.argv[2]} {report['claims_per_second']:.0f} {report['latency_ms']['p99']:.3f} {int(sys.argv[3]) / answered:.4f} {cpu_us:.2f}")
PY
}
results=()
for round in $(seq 1 "$rounds"); do  # alternate which goes first, so drift cancels
  if [ $((round % 2)) = 1 ]; then
    results+=("$(run "$with_port" "with-$round")" "$(run "$without_port" "without-$round")")
  else
    results+=("$(run "$without_port" "without-$round")" "$(run "$with_port" "with-$round")")
  fi
done
printf '%s\n' "${results[@]}" >"$run_dir/rows.txt"
python3 - "$run_dir/rows.txt" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
for name, rate, p99, scripts, cpu in rows:
    print(f"  {name:10s} {float(rate):9.0f} claims/s  p99 {float(p99):.2f} ms  {float(scripts):.4f} Redis script calls per claim"
          f"  node CPU {float(cpu):.1f} µs/claim")
def mean(prefix, column):
    values = [float(r[column]) for r in rows if r[0].startswith(prefix)]
    return sum(values) / len(values)
on, off = mean("with-", 1), mean("without-", 1)
p99_on, p99_off = mean("with-", 2), mean("without-", 2)
print(f"FIGURE: claim series cost: {on:.0f} claims/s with, {off:.0f} without ({(off - on) / off * 100:+.1f}% cost); "
      f"p99 {p99_on:.2f} ms with, {p99_off:.2f} ms without; Redis script calls per claim {mean('with-', 3):.4f} with, "
      f"{mean('without-', 3):.4f} without; node CPU per claim {mean('with-', 4):.1f} µs with, {mean('without-', 4):.1f} µs without")
PY
