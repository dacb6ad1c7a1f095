#!/usr/bin/env bash
# `make profile`: perf on a release node (one loop, no flusher) under a bounded closed-loop wrk
# run of claims (PROFILE_SECONDS, 8 by default, 64 connections), then folds `perf script` into
# Benchmarks/efficiency/flamegraph.svg and prints the top self-time symbols. Needs linux-perf
# and wrk (`make profile` installs them). ≈ 20 s plus perf's post-processing.
set -euo pipefail
. "$(dirname "$0")/common.sh"
seconds=${PROFILE_SECONDS:-8}
out=${PROFILE_OUT:-$here/flamegraph.svg}
start_stack
start_node --flusher false --loops 1 ${EFF_NODE_FLAGS:-}
url=http://127.0.0.1:$node_port$CLAIM_PATH
CLAIM_PREFIX=warm wrk -t 1 -c 64 -d 1s -s "$here/wrk-claim.lua" "$url" >/dev/null
perf record -F 499 -g --call-graph dwarf,16384 -p "$node_pid" -o "$run_dir/perf.data" -- sleep "$seconds" 2>"$run_dir/perf.log" &
perf_pid=$!
sleep 0.3
CLAIM_PREFIX=prof wrk -t 1 -c 64 -d "$((seconds - 1))s" -s "$here/wrk-claim.lua" "$url" | grep -E "requests in|Requests/sec"
wait "$perf_pid" || { cat "$run_dir/perf.log"; exit 1; }
perf script -i "$run_dir/perf.data" 2>/dev/null | tee "$run_dir/perf.txt" | python3 "$root/Benchmarks/flamegraph.py" --title "coupond claim path (wrk, 64 conns, 1 loop, flusher off)" --svg "$out" --top 25 --folded "${PROFILE_FOLDED:-$run_dir/folded.txt}" \
  --inclusive "HTTPRequestParser,HTTPConnectionMachine,HTTPConnection.run,HTTPConnection.write,ClaimHandler.handle,API.guarded,RedisConnection.socketReadable,RedisConnection.socketWritable,redisAsync,epoll_pwait2,JSONParser,malloc,swift_retain,swift_release"
echo "flame graph: $out"
