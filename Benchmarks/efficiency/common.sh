# Sourced by the Benchmarks/efficiency scripts: the load-tests stack (Redis appendfsync always,
# PostgreSQL, nodes on free loopback ports in a temp dir, exactly those pids stopped on exit)
# plus a demo campaign with enough stock for every claim, wrk helpers and CPU counters.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
# shellcheck source=../../load-tests/stack.sh
. "$root/load-tests/stack.sh"
ulimit -n 8192 2>/dev/null || true
here=$root/Benchmarks/efficiency

# Redis as in load-tests/stack.sh, with EFF_APPENDFSYNC (always by default, as in production
# settings): `no` takes the shared disk's fsync stalls out of a measurement of the node itself.
# EFF_REDIS_FLAGS: more redis-server flags (e.g. `--auto-aof-rewrite-percentage 0`).
start_redis() {
  redis_port=$(free_port)
  mkdir -p "$run_dir/redis-$redis_port"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run_dir/redis-$redis_port" --appendonly yes \
    --appendfsync "${EFF_APPENDFSYNC:-always}" --save "" --daemonize no ${EFF_REDIS_FLAGS:-} >"$run_dir/redis-$redis_port.log" 2>&1 &
  stack_pids+=($!)
  redis_pid=$!
}

# start_stack: Redis + PostgreSQL + a campaign (stock 10^9, one coupon per user) in $keys_file.
start_stack() {
  start_redis
  start_postgres
  wait_backends
  keys_file=$run_dir/keys.env
  COUPOND_REDIS=127.0.0.1:$redis_port COUPOND_POSTGRES="$conninfo" COUPOND_LOG_LEVEL=warning \
    "$bin_dir/coupond" demo --stock 1000000000 --per-user-limit 1 --keys-file "$keys_file" >/dev/null
  # shellcheck disable=SC1090
  . "$keys_file"
  export CLAIM_KEY=$COUPOND_ISSUE_KEY CLAIM_PATH=/v1/campaigns/$COUPOND_DEMO_CAMPAIGN/claims
}

# start_nginx: Debian nginx, one worker, answering every GET with a static 200 of a claim-sized body.
start_nginx() {
  nginx_port=$(free_port)
  mkdir -p "$run_dir/nginx"
  cat >"$run_dir/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $run_dir/nginx/nginx.pid;
error_log $run_dir/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $run_dir/nginx;
  proxy_temp_path $run_dir/nginx;
  fastcgi_temp_path $run_dir/nginx;
  uwsgi_temp_path $run_dir/nginx;
  scgi_temp_path $run_dir/nginx;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { default_type application/json; return 200 '{"status":"granted","coupon_code":"C0123456789ABCDEF","campaign_id":1}'; }
  }
}
CONF
  /usr/sbin/nginx -c "$run_dir/nginx/nginx.conf" -p "$run_dir/nginx" &
  stack_pids+=($!)
  nginx_pid=$!
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$nginx_port/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "nginx did not start"; cat "$run_dir/nginx/error.log"; return 1
}

# The machine's CPU ticks (all states) and those stolen by the hypervisor (a VM's vCPU waiting
# for a host core): `steal_share BEFORE AFTER` → the percentage of the 2 cores' time stolen.
machine_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $9}' /proc/stat; }
steal_share() { python3 -c "b, a = '$1'.split(), '$2'.split(); print(f'{(int(a[1]) - int(b[1])) * 100 / max(1, int(a[0]) - int(b[0])):.0f}')"; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system CPU of a process, clock ticks
clk_tck=$(getconf CLK_TCK)

# wrk_run URL SECONDS CONNECTIONS PID [lua] → prints "requests ok_requests cpu_us_per_ok_request rps p99_ms"
wrk_run() {
  local url=$1 seconds=$2 connections=$3 pid=$4 script=${5:-}
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(wrk -t 1 -c "$connections" -d "${seconds}s" --latency ${script:+-s "$script"} "$url")
  after=$(cpu_ticks "$pid")
  python3 - "$before" "$after" "$clk_tck" <<PY
import re, sys
out = """$out"""
total = int(re.search(r"(\d+) requests in", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
ok = total - (int(bad.group(1)) if bad else 0)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else float("nan")
cpu = (int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3]) * 1e6
print(total, ok, f"{cpu / max(ok, 1):.2f}", f"{rps:.0f}", f"{p99:.2f}")
PY
}
