#!/usr/bin/env bash
# Where the claim path allocates (issue 15): a uprobe on libc's malloc (`perf probe`), sampled
# with DWARF call graphs on a release node (one loop, no flusher) during ALLOC_SITES_SECONDS (3)
# of wrk claims; prints allocations per granted claim by the nearest coupond frame
# (Swift runtime and stdlib frames skipped), the top ALLOC_SITES_TOP (40). Needs linux-perf
# (`make profile-tools`) and root for the uprobe. ≈ 15 s plus perf's post-processing.
set -euo pipefail
. "$(dirname "$0")/common.sh"
seconds=${ALLOC_SITES_SECONDS:-3}
libc=$(ldconfig -p | sed -n 's/.*libc.so.6 (libc6,x86-64) => //p' | head -1)
perf probe -l 2>/dev/null | grep -q 'probe_libc:malloc ' || perf probe -q -x "$libc" malloc
start_stack
start_node --flusher false --loops 1 ${EFF_NODE_FLAGS:-}
url=http://127.0.0.1:$node_port$CLAIM_PATH
CLAIM_PREFIX=warm wrk -t 1 -c 64 -d 1s -s "$here/wrk-claim.lua" "$url" >/dev/null
perf record -e probe_libc:malloc --call-graph dwarf,8192 -p "$node_pid" -o "$run_dir/perf.data" -- sleep "$seconds" 2>"$run_dir/perf.log" &
perf_pid=$!
sleep 0.2
out=$(CLAIM_PREFIX=sites wrk -t 1 -c 64 -d "${seconds}s" -s "$here/wrk-claim.lua" "$url")
wait "$perf_pid" || { cat "$run_dir/perf.log"; exit 1; }
total=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
bad=$(sed -n 's/^ *Non-2xx or 3xx responses: \([0-9]*\)/\1/p' <<<"$out")
perf script -i "$run_dir/perf.data" -F ip,sym,dso 2>/dev/null | tee "${ALLOC_SITES_RAW:-/dev/null}" | python3 "$here/alloc_sites.py" "$((total - ${bad:-0}))" "${ALLOC_SITES_TOP:-40}"
