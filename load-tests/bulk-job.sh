#!/usr/bin/env bash
# `make loadtest-bulk` (also run by `make loadtest`): the bulk grant job of issue 12 on
# loopback, against a fresh Redis (appendfsync always) + PostgreSQL + coupond nodes.
#   1. claims/s through one node (coupon-load closed loop, 64 connections, 8 s): the baseline.
#   2. a 1,000,000-line job (1 % duplicate lines) on a campaign with stock 800,000, limit 1,
#      through the same node: lines/s (= the job's grants+refusals per second), node VmRSS
#      sampled during the job. The node running it is SIGKILLed twice mid-job (BULK_KILLS=0 to
#      skip): the next node resumes from the checkpoint. Then the exact totals are checked:
#      800,000 grants, every duplicate limit_reached, 190,000 sold_out, in the refusals CSV, and
#      800,000 distinct coupons in PostgreSQL after the flush.
#   3. claim p99 with an open loop at BULK_CLAIM_RATE/s (2000) for 8 s, alone and while a
#      300,000-line job runs on the same node.
# Exit status non-zero on any violation. Results: load-tests/results/bulk-job.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
out=${LOADTEST_OUT:-$root/load-tests/results}
lines=${BULK_LINES:-1000000}
stock=${BULK_STOCK:-800000}
kills=${BULK_KILLS:-2}
claim_rate=${BULK_CLAIM_RATE:-2000}
mkdir -p "$out"
# shellcheck source=stack.sh
. "$root/load-tests/stack.sh"

start_redis
start_postgres
wait_backends
# BULK_NODE_FLAGS: more coupond flags, e.g. "--bulk-calls-in-flight 1 --bulk-lines-per-call 100".
# shellcheck disable=SC2206
node_flags=(--flusher-takeover-idle-ms 1000 --bulk-lease-seconds 3 --log-level info ${BULK_NODE_FLAGS:-})
start_node "${node_flags[@]}"
# shellcheck disable=SC1090
. "$keys_file"
echo "stack: redis :$redis_port, postgres :$pg_port, node :$node_port (pid $node_pid), dir $run_dir"
api() { curl -sS -H "Authorization: Bearer $COUPOND_ADMIN_KEY" "$@"; }
sql() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -d coupond -Atc "$1"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
status=0
check() { if [ "$2" = "$3" ]; then echo "  ok   $1 = $2"; else echo "  FAIL $1 = $2, expected $3"; status=1; fi; }
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# PostgreSQL's CPU: the postmaster with its reaped children, plus the live backends.
pg_cpu() {
  local total; total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pg_pid/stat")
  for child in $(cat "/proc/$pg_pid/task/$pg_pid/children" 2>/dev/null); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
rcli() { redis-cli -p "$redis_port" "$@"; }
# Nanoseconds a process' threads waited for a CPU (run queue, /proc/PID/task/*/schedstat field 2).
runq_wait_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $2} END {printf "%.0f\n", s}'; }
template=$(api -X POST "http://127.0.0.1:$node_port/v1/templates" -d '{"name":"bulk","currency":"CNY","kind":"amount_off","threshold":0,"amount":500,"validity":{"type":"relative","days":30}}' | json 'd["id"]')
campaign() {  # campaign STOCK → id
  local now; now=$(date -u +%s)
  api -X POST "http://127.0.0.1:$node_port/v1/campaigns" -d "{\"template_id\":$template,\"name\":\"bulk\",\"stock\":$1,\"per_user_limit\":1,
    \"claim_start\":\"$(date -u -d @$((now - 60)) +%FT%TZ)\",\"claim_end\":\"$(date -u -d @$((now + 86400)) +%FT%TZ)\"}" | json 'd["id"]'
}
job() { api "http://127.0.0.1:$node_port/v1/jobs/$1"; }

echo "== 1. claims/s through the node (baseline, same run)"
"$bin_dir/coupon-load" --target "127.0.0.1:$node_port" --keys-file "$keys_file" --quiet --label bulk-baseline \
  --create-campaign stock=2000000,limit=1 --users 2000000 --connections 64 --duration 8 --json "$out/bulk-baseline.json" >/dev/null
claims_per_s=$(json 'round(d["claims_per_second"])' <"$out/bulk-baseline.json")
echo "  claims/s: $claims_per_s"

echo "== 2. $lines-line job, stock $stock, limit 1, 1% duplicates, $kills node kill(s)"
list=$run_dir/users.txt
# Line i is user u<i>, except every hundredth line, which repeats the user of line k = i/100
# (k - 1 when k is itself a duplicate line): a user granted early, so the duplicate is limit_reached.
awk -v n="$lines" 'BEGIN { for (i = 1; i <= n; i++) { k = int(i / 100); if (k % 100 == 0) k--; print (i % 100 == 0 ? "u" k : "u" i) } }' >"$list"
big=$(campaign "$stock")
t0=$(date +%s.%N)
id=$(api -X POST --data-binary @"$list" -H 'Content-Type: text/csv' "http://127.0.0.1:$node_port/v1/campaigns/$big/bulk-grants" | json 'd["id"]')
t_upload=$(date +%s.%N)
rcli config resetstat >/dev/null
redis_cpu_start=$(cpu_of "$redis_pid"); redis_sys_start=$(awk '{print $15}' "/proc/$redis_pid/stat"); redis_wait_start=$(runq_wait_ns "$redis_pid"); pg_cpu_start=$(pg_cpu); load_start=$(cut -d' ' -f1 /proc/loadavg)
rss_max=0; killed=0; cpu_total=0; cpu_start=$(cpu_of "$node_pid")
while :; do
  s=$(job "$id") || { sleep 0.2; continue; }
  state=$(echo "$s" | json 'd.get("state","?")' 2>/dev/null || echo "?"); done_=$(echo "$s" | json 'd.get("done",0)' 2>/dev/null || echo 0)
  [ "$state" = "?" ] && { echo "  (job status: $s)"; sleep 0.2; continue; }
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$node_pid/status" 2>/dev/null || echo 0); [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  if [ "$killed" -lt "$kills" ] && [ "$done_" -ge $(( (killed + 1) * lines / (kills + 2) )) ]; then
    cpu_total=$(echo "$cpu_total + $(cpu_of "$node_pid") - $cpu_start" | bc)
    kill -KILL "$node_pid"; wait "$node_pid" 2>/dev/null || true
    echo "  SIGKILL node (pid $node_pid) at done=$done_"
    killed=$((killed + 1))
    start_node "${node_flags[@]}"; cpu_start=$(cpu_of "$node_pid")
    continue
  fi
  case $state in done|cancelled|failed) break ;; esac
  sleep 0.2
done
t1=$(date +%s.%N)
cpu_total=$(echo "$cpu_total + $(cpu_of "$node_pid") - $cpu_start" | bc)
redis_cpu=$(( $(cpu_of "$redis_pid") - redis_cpu_start )); redis_sys=$(( $(awk '{print $15}' "/proc/$redis_pid/stat") - redis_sys_start )); redis_wait_ms=$(( ($(runq_wait_ns "$redis_pid") - redis_wait_start) / 1000000 )); pg_cpu_job=$(( $(pg_cpu) - pg_cpu_start ))
load_end=$(cut -d' ' -f1 /proc/loadavg)
rcli info commandstats | grep -E 'evalsha|xadd|zadd|pexpire|zrem|xreadgroup|xack|sadd|hget|hmget|hincrby|hset|exec' | tr -d '\r' \
  | sed 's/^cmdstat_/    /' >"$run_dir/commandstats.txt" || true
s=$(job "$id")
echo "  $s"
run_s=$(echo "$t1 - $t_upload" | bc); upload_s=$(echo "$t_upload - $t0" | bc)
lines_per_s=$(echo "$lines / $run_s" | bc)
echo "  upload ${upload_s}s, job ${run_s}s: $lines_per_s lines/s; claims/s (same run) $claims_per_s → ratio $(echo "scale=2; $lines_per_s / $claims_per_s" | bc)x"
echo "  node CPU over the job: ${cpu_total} ticks ($(echo "scale=1; $cpu_total * 10000 / $lines" | bc) µs per line at 100 ticks/s)"
echo "  node VmRSS max during the job: $((rss_max / 1024)) MB"
echo "  Redis CPU over the job: ${redis_cpu} ticks ($(echo "scale=1; $redis_cpu * 10000 / $lines" | bc) µs per line, of which system ${redis_sys} ticks: sockets, AOF write + fsync);" \
  "PostgreSQL CPU: ${pg_cpu_job} ticks ($(echo "scale=1; $pg_cpu_job * 10000 / $lines" | bc) µs per line, incl. the flusher's writes)"
echo "  Redis waited ${redis_wait_ms} ms for a CPU (run queue) during the job"
echo "  load average ${load_start} at the start, ${load_end} at the end; Redis commands during the job (calls, µs per call):"
cat "$run_dir/commandstats.txt"
check state "$(echo "$s" | json 'd["state"]')" done
check resumes "$(echo "$s" | json 'd["resumes"]')" "$kills"
check granted "$(echo "$s" | json 'd["granted"]')" "$stock"
check limit_reached "$(echo "$s" | json 'd["refused"].get("limit_reached",0)')" $((lines / 100))
check sold_out "$(echo "$s" | json 'd["refused"].get("sold_out",0)')" $((lines - lines / 100 - stock))
refusals=$run_dir/refusals.csv
api "http://127.0.0.1:$node_port/v1/jobs/$id/refusals" >"$refusals"
check "refusals CSV rows" "$(($(wc -l <"$refusals") - 1))" $((lines - stock))
check "CSV limit_reached rows on duplicate lines" "$(awk -F, '$3 == "limit_reached" && $1 % 100 == 0' "$refusals" | wc -l)" $((lines / 100))
for _ in $(seq 1 600); do
  [ "$(sql "select count(*) from coupons where campaign_id = $big")" -ge "$stock" ] && break; sleep 0.2
done
t_flushed=$(date +%s.%N)
echo "  flushed to PostgreSQL $(echo "$t_flushed - $t1" | bc)s after the job ended"
check "coupons in PostgreSQL" "$(sql "select count(*) || '/' || count(distinct user_id) from coupons where campaign_id = $big")" "$stock/$stock"

[ -n "${BULK_SKIP_P99:-}" ] && exit $status
echo "== 3. claim p99 at $claim_rate/s, alone and during a 300,000-line job"
load_open() { "$bin_dir/coupon-load" --target "127.0.0.1:$node_port" --keys-file "$keys_file" --quiet --label "$1" \
  --create-campaign stock=1000000,limit=1 --users 1000000 --rate "$claim_rate" --connections 64 --duration 8 --json "$out/$1.json" >/dev/null; }
load_open bulk-p99-alone
head -n 300000 "$list" | sed 's/^u/w/' >"$run_dir/second.txt"
second=$(campaign 1000000)
id2=$(api -X POST --data-binary @"$run_dir/second.txt" "http://127.0.0.1:$node_port/v1/campaigns/$second/bulk-grants" | json 'd["id"]')
load_open bulk-p99-during-job
s2=$(job "$id2")
p99_alone=$(json 'd["latency_ms"]["p99"]' <"$out/bulk-p99-alone.json")
p99_job=$(json 'd["latency_ms"]["p99"]' <"$out/bulk-p99-during-job.json")
echo "  claim p99 alone ${p99_alone} ms, during the job ${p99_job} ms (job done $(echo "$s2" | json 'd["done"]')/300000 meanwhile)"
{
  echo "lines=$lines stock=$stock kills=$kills claims_per_s=$claims_per_s job_lines_per_s=$lines_per_s job_s=$run_s upload_s=$upload_s"
  echo "rss_max_kb=$rss_max p99_alone_ms=$p99_alone p99_during_job_ms=$p99_job"
} >"$out/bulk-job.txt"
[ $status = 0 ] && echo "bulk loadtest: all checks held" || echo "bulk loadtest: VIOLATIONS (see above)"
exit $status
