#!/usr/bin/env bash
# Issue 9 engine figures (Redis CPU per claim batched vs single; Redis bytes per granted claim
# before vs after the request buckets): starts one Redis with appendonly yes / appendfsync always
# on a free loopback port in a temp dir, runs `coupon-bench --engine-redis`, stops that pid.
# Bounded: ENGINE_CLAIMS (20000) claims per run, six runs, ≈ 20–40 s here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always --save '' --daemonize no \
  >"$dir/redis.log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "redis :$port (pid $redis_pid, appendfsync always); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin_dir/coupon-bench" --engine-redis "127.0.0.1:$port" --redis-pid "$redis_pid" --claims "${ENGINE_CLAIMS:-20000}"
