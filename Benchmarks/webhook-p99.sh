#!/usr/bin/env bash
# Does a dead webhook endpoint slow claims? (issue 12). One Redis (appendfsync always), one
# PostgreSQL, one node (flusher and webhook deliverer on), a `coupon.granted` subscription, and
# open-loop claims (`coupon-load --rate`, every claim a new user, so every claim is a grant and a
# webhook row). Phases alternate, each WEBHOOK_SECONDS (default 4, at most 20) of load:
#   up      — the receiver answers 200 at once
#   refused — nothing listens on the receiver's port (connection refused)
#   up
#   hang    — the receiver accepts and never answers (each POST waits webhook-timeout-ms)
# repeated WEBHOOK_ROUNDS times (default 3). Before each up phase the receiver is started and the
# outbox backlog left by the down phase is drained (at most 60 s, no claims meanwhile), so every
# up phase is the clean baseline for the down phase after it.
# Prints per phase claim p99/p50, claims answered,
# node CPU per claim (/proc/PID/stat), webhook rows delivered and pending at the end; and the
# same-run ratios p99(down phase) / p99(the up phase before it) and their medians, and the
# percentiles of every phase of a kind pooled (coupon-load's latency buckets); then, with
# no claims and the last hang phase's backlog waiting, node + PostgreSQL CPU and delivery
# attempts over 10 s with the receiver hanging and refusing. Also the
# load average (the machine is shared: read the ratios with it).
# Needs release binaries: swift build -c release --product coupond && swift build -c release --product coupon-load
# (SwiftPM builds only the last of several --product flags).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
rounds=${WEBHOOK_ROUNDS:-3}
seconds=${WEBHOOK_SECONDS:-4}
rate=${WEBHOOK_RATE:-500}
connections=${WEBHOOK_CONNECTIONS:-64}
timeout_ms=${WEBHOOK_TIMEOUT_MS:-2000}
if awk -v s="$seconds" 'BEGIN { exit !(s > 20) }'; then echo "WEBHOOK_SECONDS must be at most 20"; exit 2; fi
# shellcheck source=../load-tests/stack.sh
. "$root/load-tests/stack.sh"
ulimit -n 8192 2>/dev/null || true

receiver_pid=
stop_receiver() {
  if [ -n "$receiver_pid" ]; then
    kill -TERM "$receiver_pid" 2>/dev/null || true
    wait "$receiver_pid" 2>/dev/null || true
    receiver_pid=
  fi
}
trap 'stop_receiver; stack_cleanup' EXIT

cat >"$run_dir/receiver.py" <<'PY'
# A webhook receiver: "up" answers 200 to every POST, "hang" reads and never answers.
import asyncio, sys
mode, port = sys.argv[1], int(sys.argv[2])
held = []
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if mode == "hang":
                held.append(writer)
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024, reuse_address=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY

start_receiver() {  # start_receiver up|hang
  python3 "$run_dir/receiver.py" "$1" "$receiver_port" >>"$run_dir/receiver.log" 2>&1 &
  receiver_pid=$!
  for _ in $(seq 1 50); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$receiver_port" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "receiver did not start"; cat "$run_dir/receiver.log"; return 1
}

start_redis
start_postgres
wait_backends
start_node --webhook-timeout-ms "$timeout_ms"
admin=$(grep '^COUPOND_ADMIN_KEY=' "$keys_file" | cut -d= -f2-)
receiver_port=$(free_port)
curl -sf -X POST "http://127.0.0.1:$node_port/v1/webhooks" -H "Authorization: Bearer $admin" \
  -d "{\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"events\":[\"coupon.granted\"]}" >/dev/null

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$node_pid/stat"; }
outbox() {
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -d coupond -Atc \
    "select count(*) filter (where delivered_at is not null), count(*) filter (where delivered_at is null and dead_at is null) from webhook_outbox" | tr '|' ' '
}

drain() {  # until no row is pending (the endpoint's pause after failures ends, the backlog goes out)
  for _ in $(seq 1 600); do
    [ "$(outbox | cut -d' ' -f2)" = 0 ] && return 0
    sleep 0.1
  done
  echo "warning: outbox not drained: $(outbox)" >&2
}

phase() {  # phase LABEL → one line in $run_dir/phases: label p99 p50 answered ticks delivered pending
  local label=$1 json=$run_dir/$1-$RANDOM.json
  stop_receiver
  case "$label" in up) start_receiver up; drain ;; hang) start_receiver hang ;; refused) ;; esac
  local before after
  before=$(cpu_ticks)
  "$bin_dir/coupon-load" --target "127.0.0.1:$node_port" --keys-file "$keys_file" --create-campaign stock=100000000,limit=1 \
    --users 100000000 --rate "$rate" --connections "$connections" --duration "$seconds" --quiet --label "$label" --json "$json" >/dev/null
  after=$(cpu_ticks)
  python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); l=o["latency_ms"]; print(sys.argv[2], l["p99"], l["p50"], o["answered"], int(sys.argv[3]), *sys.argv[4:])' \
    "$json" "$label" "$((after - before))" $(outbox) >>"$run_dir/phases"
  python3 -c 'import json,sys; print(sys.argv[2], json.dumps(json.load(open(sys.argv[1]))["latency_buckets_us"]))' "$json" "$label" >>"$run_dir/buckets"
}

for _ in $(seq 1 "$rounds"); do
  phase up
  phase refused
  phase up
  phase hang
done
# What a dead endpoint costs with no claims: node + PostgreSQL CPU over 10 s while the backlog
# the last hang phase left waits, with the receiver hanging, then refusing.
ticks() {
  local total=0 pid
  for pid in "$node_pid" "$pg_pid" $(pgrep -P "$pg_pid"); do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
attempts() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -d coupond -Atc "select coalesce(sum(attempts), 0) from webhook_outbox"; }
idle() {  # idle LABEL → one line in $run_dir/idle: label ticks attempts pending
  local t0 a0
  t0=$(ticks); a0=$(attempts)
  sleep 10
  echo "$1 $(($(ticks) - t0)) $(($(attempts) - a0)) $(outbox | cut -d' ' -f2)" >>"$run_dir/idle"
}
idle hang
stop_receiver
idle refused
read -r load1 load5 _ </proc/loadavg
python3 - "$run_dir/idle" "$(getconf CLK_TCK)" <<'PY'
import sys
hz = float(sys.argv[2])
for label, ticks, attempts, pending in (line.split() for line in open(sys.argv[1])):
    print(f"FIGURE: receiver {label}, no claims, {pending} rows waiting: node + PostgreSQL CPU {float(ticks) / hz / 10 * 100:.1f} % of a core "
          f"over 10 s, {attempts} delivery attempts")
PY
python3 - "$run_dir/phases" "$seconds" "$rate" "$connections" "$timeout_ms" "$load1" "$load5" "$(getconf CLK_TCK)" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1])]
seconds, rate, connections, timeout_ms, load1, load5, hz = sys.argv[2:9]
hz = float(hz)
print(f"{'phase':8} {'p99 ms':>8} {'p50 ms':>8} {'claims':>7} {'CPU µs/claim':>13} {'delivered':>10} {'pending':>8}")
for label, p99, p50, answered, ticks, delivered, pending in rows:
    per = float(ticks) / hz * 1e6 / max(1, float(answered))
    print(f"{label:8} {float(p99):8.2f} {float(p50):8.2f} {int(float(answered)):7d} {per:13.1f} {delivered:>10} {pending:>8}")
ratios = {"refused": [], "hang": []}
for i, row in enumerate(rows):
    if row[0] in ratios and i > 0 and rows[i - 1][0] == "up":
        ratios[row[0]].append(float(row[1]) / float(rows[i - 1][1]))
def median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
p99 = {k: median([float(r[1]) for r in rows if r[0] == k]) for k in ("up", "refused", "hang")}
print("median p99 ms: " + ", ".join(f"{k} {v:.2f}" for k, v in p99.items()))
parts = [f"{k}/up median {median(v):.3f} (rounds {', '.join(f'{r:.3f}' for r in v)})" for k, v in ratios.items() if v]
# Pooled: every phase of one kind in one histogram (coupon-load's buckets), so a percentile rests on
# all of that kind's claims (rounds × seconds × rate) rather than on one phase's 1 %.
import json
pooled = {}
for line in open(sys.argv[1][: -len("phases")] + "buckets"):
    label, buckets = line.split(" ", 1)
    into = pooled.setdefault(label, {})
    for edge, count in json.loads(buckets):
        into[edge] = into.get(edge, 0) + count
def quantile(hist, q):
    total = sum(hist.values())
    rank, seen = max(1, int(-(-total * q // 1))), 0
    for edge in sorted(hist):
        seen += hist[edge]
        if seen >= rank:
            return edge / 1000
    return 0.0
print("pooled over every phase of a kind (claims; p50 / p99 / p99.9 ms):")
for label in ("up", "refused", "hang"):
    if label in pooled:
        h = pooled[label]
        print(f"  {label:8} {sum(h.values()):7d}  {quantile(h, 0.5):7.2f} {quantile(h, 0.99):8.2f} {quantile(h, 0.999):8.2f}")
if "up" in pooled:
    up99 = quantile(pooled["up"], 0.99)
    pooled_parts = [f"{k}/up {quantile(pooled[k], 0.99) / up99:.3f}" for k in ("refused", "hang") if k in pooled]
    print(f"FIGURE: pooled claim p99, receiver down vs up: {'; '.join(pooled_parts)} (up {up99:.2f} ms)")
print(f"FIGURE: claim p99 with the webhook receiver down vs up (same run, each down phase over the up phase before it): "
      f"{'; '.join(parts)}; open loop {rate}/s, {connections} connections, {seconds} s per phase, "
      f"webhook-timeout-ms {timeout_ms}, release build; load average {load1} (1 min) {load5} (5 min)")
PY
