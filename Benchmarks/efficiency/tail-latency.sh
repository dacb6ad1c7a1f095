#!/usr/bin/env bash
# Open-loop p99 at half the maximum rate, flusher on vs off (issue 15). Two nodes (2 loops
# each, the default), each on its own Redis; the first with its flusher writing to PostgreSQL,
# the second without. For each: a closed-loop coupon-load run (TAIL_SECONDS, 3) finds the max
# rate, then TAIL_RUNS (3) open-loop runs at half of it (TAIL_SECONDS each) report p99 from each
# claim's scheduled time. After each node run the same open loop goes to nginx answering a
# static 200 (the p99 floor any server gets on these cores); each run prints the share of the
# machine's CPU time the hypervisor stole during it (/proc/stat `steal`) and the node's loop
# turns over 2 ms (`coupond_loop_turn_seconds`). ≈ 2 × (1 + 2 × runs) × (seconds + 2) s.
# TAIL_CLAIM_PATH_RT=1: the claim path's threads (each Redis' main thread, each node's `loop-N`
# threads) run SCHED_RR (priority 10): the load generator, PostgreSQL, the flusher and anything
# else on the machine can then never deschedule them — what cores of their own would give. An
# experiment on where the tail comes from, not a production setting (needs root).
set -euo pipefail
. "$(dirname "$0")/common.sh"
seconds=${TAIL_SECONDS:-3}
runs=${TAIL_RUNS:-3}
connections=${TAIL_CONNECTIONS:-128}
claim_path_rt() { # claim_path_rt PID... → SCHED_RR for their loop-N / redis-server threads
  [ "${TAIL_CLAIM_PATH_RT:-0}" = 1 ] || return 0
  local pid task
  for pid in "$@"; do
    for task in /proc/"$pid"/task/*; do
      case "$(cat "$task/comm" 2>/dev/null)" in loop-* | redis-server) chrt -r -p 10 "${task##*/}" ;; esac
    done
  done
}
start_stack
start_nginx
claim_path_rt "$redis_pid"
start_node ${EFF_NODE_FLAGS:-}
on_port=$node_port
claim_path_rt "$node_pid"
first_redis=$redis_port
start_redis
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
claim_path_rt "$redis_pid"
start_node --flusher false ${EFF_NODE_FLAGS:-}
off_port=$node_port
claim_path_rt "$node_pid"
load() { # load PORT LABEL [coupon-load flags...] → prints "rate p99"
  local port=$1 label=$2; shift 2
  "$bin_dir/coupon-load" --target "127.0.0.1:$port" --keys-file "$keys_file" --create-campaign stock=100000000,limit=1000 \
    --users 200000 --claims-per-user 1000 --connections "$connections" --duration "$seconds" --quiet --json "$run_dir/$label.json" "$@" >/dev/null
  python3 -c "import json; r = json.load(open('$run_dir/$label.json')); print(f\"{r['claims_per_second']:.0f} {r['latency_ms']['p99']:.2f}\")"
}
# The node's own view of the same requests: its request-duration histogram (from the request's
# head parsed to its response queued, so the Redis round trip is in it, time spent in socket
# buffers and the load generator is not), as a delta around each run → the bucket holding p99.
node_buckets() { curl -sf "http://127.0.0.1:$1/metrics" | grep -E '^coupond_(http_request_duration|loop_turn)_seconds_bucket' >"$2"; }
# node_histogram METRIC BEFORE AFTER → one of the node's histograms as a delta around a run:
# request durations → "<= X ms", the bucket holding p99; loop turns (whose work took over 2 ms,
# every connection of that loop waiting that long — a stall inside the node) →
# "N of M turns > 2 ms, longest <= X ms".
node_histogram() {
  python3 - "$@" <<'PY'
import re, sys
metric, before_path, after_path = sys.argv[1:4]
def read(path):
    return [(float('inf') if b == '+Inf' else float(b), int(float(v))) for b, v in
            re.findall(r'^coupond_' + metric + r'_seconds_bucket\{le="([^"]+)"\} (\S+)', open(path).read(), re.M)]
delta = [(bound, a - b) for (bound, a), (_, b) in zip(read(after_path), read(before_path))]
total = delta[-1][1]
if metric == "loop_turn":
    within2 = next(count for bound, count in delta if bound >= 0.002)
    longest = next(bound for bound, count in delta if count == total)
    print(f"{total - within2} of {total} turns > 2 ms, longest <= {longest * 1000:g} ms")
else:
    bound = next(bound for bound, count in delta if total and count >= 0.99 * total)
    print(f"<= {bound * 1000:g} ms")
PY
}
# The flusher node's backlog drained (≤ 60 s): a closed-loop run leaves tens of thousands of
# grants for PostgreSQL, and measuring the next open-loop run (either node's) while they are
# written would measure that catch-up, not the steady state.
drain_flusher() {
  local backlog
  for _ in $(seq 1 600); do
    backlog=$(curl -sf "http://127.0.0.1:$on_port/metrics" | awk '$1 == "coupond_flusher_backlog" {print $2}')
    [ "${backlog:-1}" = 0 ] && return 0
    sleep 0.1
  done
  echo "  (flusher backlog still $backlog after 60 s)"
}
# Redis' own view: its latency monitor (events ≥ 2 ms: an fsync, a fork, or a command that took
# that long in wall time — Redis off the CPU), reported per Redis after the runs with its AOF
# rewrites and last fork.
for port in "$first_redis" "$redis_port"; do redis-cli -p "$port" config set latency-monitor-threshold 2 >/dev/null; done
redis_report() { # redis_report PORT LABEL
  local events
  events=$(redis-cli -p "$1" latency latest | paste -sd' ' | awk '{for (i = 1; i + 3 <= NF; i += 4) printf "%s%s max %s ms", (i > 1 ? ", " : ""), $i, $(i + 3)}')
  echo "  Redis of the $2 node: latency events ≥ 2 ms: ${events:-none}; $(redis-cli -p "$1" info persistence | tr -d '\r' | awk -F: '/^aof_rewrites:|^aof_delayed_fsync:/ {printf "%s %s; ", $1, $2}')$(redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '/^latest_fork_usec:/ {printf "%s %s", $1, $2}')"
}
# The floor under appendfsync always: every granted claim waits for Redis' AOF fdatasync, so a
# claim's p99 cannot be below this disk's own fdatasync p99 (512-byte appends, 3 s, measured in
# the run directory — the filesystem Redis' AOF is on — right before the claim runs).
fsync_floor() {
  python3 - "$run_dir/fsync-probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
times, end = [], time.monotonic() + 3
while time.monotonic() < end:
    start = time.monotonic_ns(); os.write(fd, b"x" * 512); os.fdatasync(fd); times.append(time.monotonic_ns() - start)
os.close(fd); os.unlink(sys.argv[1]); times.sort()
pick = lambda q: times[min(len(times) - 1, int(len(times) * q))] / 1e6
print(f"this disk's fdatasync of 512 B ({len(times)} in 3 s): p50 {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, max {times[-1] / 1e6:.2f} ms")
PY
}
[ "${EFF_APPENDFSYNC:-always}" = always ] && fsync_floor
# The floor under any server on this machine: the same open loop (generator, connections,
# duration, rate) against nginx answering every claim with a static 200 — nothing behind it, no
# Redis, no fsync. Whatever p99 nginx shows here is the scheduler's and the load generator's
# share, which no node can go below on these cores.
nginx_floor() { # nginx_floor RATE LABEL → prints p99
  "$bin_dir/coupon-load" --target "127.0.0.1:$nginx_port" --keys-file "$keys_file" --campaign 1 \
    --users 200000 --claims-per-user 1000 --connections "$connections" --duration "$seconds" --rate "$1" --quiet --json "$run_dir/$2.json" >/dev/null
  python3 -c "import json; r = json.load(open('$run_dir/$2.json')); assert any(k.startswith('200') for k in r['outcomes']), r['outcomes']; print(f\"{r['latency_ms']['p99']:.2f}\")"
}
for mode in on off; do
  port=$([ $mode = on ] && echo "$on_port" || echo "$off_port")
  read -r max _ <<<"$(load "$port" "max-$mode")"
  half=$((max / 2))
  line="flusher $mode: max $max claims/s closed loop; open loop at $half/s p99:"
  node_line="  the node's own p99 (request parsed → response queued) in the same runs:"
  turn_line="  the node's loop turns in the same runs:"
  floor_line="  nginx (static 200, nothing behind it), same open loop, each right after the node's run: p99"
  for run in $(seq 1 "$runs"); do
    drain_flusher
    node_buckets "$port" "$run_dir/buckets-before"
    ticks_before=$(machine_ticks)
    read -r _ p99 <<<"$(load "$port" "open-$mode-$run" --rate "$half")"
    ticks_after=$(machine_ticks)
    node_buckets "$port" "$run_dir/buckets-after"
    line="$line $p99 ms (steal $(steal_share "$ticks_before" "$ticks_after") %)"
    node_line="$node_line $(node_histogram http_request_duration "$run_dir/buckets-before" "$run_dir/buckets-after"),"
    turn_line="$turn_line $(node_histogram loop_turn "$run_dir/buckets-before" "$run_dir/buckets-after");"
    ticks_before=$(machine_ticks)
    floor=$(nginx_floor "$half" "floor-$mode-$run")
    floor_line="$floor_line $floor ms (steal $(steal_share "$ticks_before" "$(machine_ticks)") %)"
  done
  echo "$line"
  echo "${node_line%,}"
  echo "${turn_line%;}"
  echo "$floor_line"
done
redis_report "$first_redis" "flusher-on"
redis_report "$redis_port" "flusher-off"
