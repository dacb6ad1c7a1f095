#!/usr/bin/env bash
# Audience (segment) cost in Redis, issue 12: memory of a campaign's audience set per million
# members (MEMORY USAGE), and the claim script's throughput with the membership check vs without,
# same Redis, same run (redis-benchmark -P 16 EVALSHA of the real claim script, no AOF so the
# script's own cost shows). Stops exactly the redis-server it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
members=${AUDIENCE_MEMBERS:-1000000}
dir=$(mktemp -d /tmp/coupond-aud.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize no >"$dir/redis.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
cli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 1 50); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
# The claim script exactly as the node runs it (Sources/Issuance/ClaimScript.swift).
script=$(python3 - "$root" <<'PY'
import re, sys
src = open(sys.argv[1] + "/Sources/Issuance/ClaimScript.swift").read()
body = re.search(r'static let source = #"""\n(.*?)\n\s*"""#', src, re.S).group(1)
print("\n".join(line[8:] if line.startswith("        ") else line for line in body.split("\n")))
PY
)
sha=$(cli SCRIPT LOAD "$script")
now_ms=$(($(date +%s) * 1000))
setup() {  # setup TAG AUD
  cli HSET "cp:{c:$1}:meta" state active start $((now_ms - 60000)) end $((now_ms + 86400000)) limit 1000000000 \
    vtype relative vfrom 0 vuntil 0 vdays 7 tags "" aud "$2" >/dev/null
  cli SET "cp:{c:$1}:stock" 1000000000 >/dev/null
}
setup 1 0; setup 2 1
# Members u000000000000.. (redis-benchmark's __rand_int__ is 12 digits) in the audience set of campaign 2 (pipelined through redis-cli --pipe).
python3 -c "
import sys
n = $members
out = sys.stdout
for start in range(0, n, 1000):
    ids = ['u%012d' % i for i in range(start, min(start + 1000, n))]
    parts = ['SADD', 'cp:{c:2}:aud'] + ids
    out.write('*%d\r\n' % len(parts) + ''.join('\$%d\r\n%s\r\n' % (len(p), p) for p in parts))
" | cli --pipe >/dev/null
bytes=$(cli MEMORY USAGE "cp:{c:2}:aud" SAMPLES 0)
echo "audience set of $members members: $bytes bytes = $(echo "scale=1; $bytes * 1000000 / $members / 1048576" | bc) MiB per million members"
bench() {  # bench TAG → claims/s (users drawn from the audience, so every claim is granted)
  redis-benchmark -p "$port" -n 200000 -c 50 -P 16 -r "$members" -q \
    EVALSHA "$sha" 7 "cp:{c:$1}:meta" "cp:{c:$1}:stock" "cp:{c:$1}:users" "cp:{c:$1}:req:__rand_int__" "cp:{c:$1}:grants" \
    "cp:{c:$1}:u:u__rand_int__" "cp:{c:$1}:aud" "u__rand_int__" "r__rand_int__" CODE 86400000 "" 86400000 \
    | tr '\r' '\n' | awk '/requests per second/ {print $(NF-5)}' | tail -1
}
# Alternating runs; the medians are compared (this machine is shared and noisy).
a=(); b=()
for _ in 1 2 3; do a+=("$(bench 1)"); b+=("$(bench 2)"); done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
without=$(median "${a[@]}"); with=$(median "${b[@]}")
granted=$(cli HGET "cp:{c:2}:meta" out:granted); refused=$(cli HGET "cp:{c:2}:meta" out:not_eligible)
echo "claim script, no audience: ${a[*]} claims/s; with the audience check: ${b[*]} claims/s (granted $granted, not_eligible ${refused:-0})"
echo "median with/without: $with / $without = $(echo "scale=3; $with / $without" | bc)"
