#!/usr/bin/env bash
# Heap allocations per steady-state claim (issue 15): the node (one loop, no flusher) runs under
# the LD_PRELOAD counter built by `make malloccount` (.build/malloccount.so, from
# Benchmarks/efficiency/malloccount.c); after a 2 s warm-up, wrk sends claims for ALLOC_SECONDS
# (5); allocations per granted claim = counter delta / granted claims. Every thread of the node
# counts (the loop, its Redis connection, timers); with no flusher that is the claim path.
set -euo pipefail
. "$(dirname "$0")/common.sh"
seconds=${ALLOC_SECONDS:-5}
preload=${MALLOCCOUNT_SO:-$root/.build/malloccount.so}
[ -f "$preload" ] || { echo "missing $preload: run make malloccount"; exit 1; }
start_stack
export MALLOCCOUNT_FILE=$run_dir/mallocs
LD_PRELOAD=$preload start_node --flusher false --loops 1 ${EFF_NODE_FLAGS:-}
unset MALLOCCOUNT_FILE
url=http://127.0.0.1:$node_port$CLAIM_PATH
CLAIM_PREFIX=warm wrk -t 1 -c 64 -d 2s -s "$here/wrk-claim.lua" "$url" >/dev/null
sleep 0.1
before=$(cat "$run_dir/mallocs")
out=$(CLAIM_PREFIX=alloc wrk -t 1 -c 64 -d "${seconds}s" -s "$here/wrk-claim.lua" "$url")
sleep 0.1
after=$(cat "$run_dir/mallocs")
total=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
bad=$(sed -n 's/^ *Non-2xx or 3xx responses: \([0-9]*\)/\1/p' <<<"$out")
ok=$((total - ${bad:-0}))
python3 -c "print(f'{$ok} granted claims, {int(\"$after\") - int(\"$before\")} allocations: {(int(\"$after\") - int(\"$before\")) / max($ok, 1):.1f} allocations per granted claim')"
