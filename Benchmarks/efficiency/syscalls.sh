#!/usr/bin/env bash
# System calls per granted claim by name (strace -c on the node, one loop, no flusher) during a
# SYSCALL_SECONDS (3) wrk run: shows the epoll_ctl / eventfd / write round trips per claim.
# strace slows the node; only the counts per claim are meaningful.
set -euo pipefail
. "$(dirname "$0")/common.sh"
seconds=${SYSCALL_SECONDS:-3}
start_stack
start_node --flusher false --loops 1 ${EFF_NODE_FLAGS:-}
url=http://127.0.0.1:$node_port$CLAIM_PATH
CLAIM_PREFIX=warm wrk -t 1 -c 64 -d 1s -s "$here/wrk-claim.lua" "$url" >/dev/null
strace -c -f -p "$node_pid" -o "$run_dir/strace.txt" &
strace_pid=$!
sleep 0.5
out=$(CLAIM_PREFIX=sys wrk -t 1 -c 64 -d "${seconds}s" -s "$here/wrk-claim.lua" "$url")
kill -INT "$strace_pid"; wait "$strace_pid" 2>/dev/null || true
total=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
python3 - "$run_dir/strace.txt" "$total" <<'PY'
import sys
claims = int(sys.argv[2])
rows = []
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] not in ("total",):
        calls = int(parts[3])
        rows.append((calls, parts[-1]))
rows.sort(reverse=True)
print(f"{claims} claims; system calls per claim:")
for calls, name in rows[:12]:
    print(f"  {calls / max(claims, 1):6.2f}  {name}")
print(f"  {sum(c for c, _ in rows) / max(claims, 1):6.2f}  all")
PY
