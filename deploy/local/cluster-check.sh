#!/usr/bin/env bash
# `make test` step (issue 10 §3): starts deploy/local/cluster.sh, claims through HAProxy (and
# retries the same request id, which may reach the other node), stops it with SIGTERM (what
# Ctrl-C's trap does), and checks that every process it started is gone and its directory removed.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
log=$(mktemp /tmp/coupond-cluster-check.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
started=$(date +%s.%N)
COUPOND_CLUSTER_PORT=$port "$root/deploy/local/cluster.sh" >"$log" 2>&1 &
script=$!
fail() { echo "cluster check FAILED: $*" >&2; cat "$log" >&2; kill -TERM "$script" 2>/dev/null || true; wait "$script" 2>/dev/null || true; exit 1; }

for _ in $(seq 1 1200); do
  grep -q "coupond cluster is up at" "$log" && break
  kill -0 "$script" 2>/dev/null || fail "cluster.sh exited early"
  sleep 0.1
done
grep -q "coupond cluster is up at" "$log" || fail "not up after 120 s"
up=$(date +%s.%N)
dir=$(sed -n 's/.*logs and keys in \([^ ]*\).*/\1/p' "$log" | head -1)
url=$(cat "$dir/url")
[ "$url" = "http://127.0.0.1:$port" ] || fail "URL $url, expected port $port"
# shellcheck disable=SC1091
. "$dir/demo.env"
claim() {
  curl -s -o "$dir/claim.json" -w '%{http_code}' -X POST "$url/v1/campaigns/$COUPOND_DEMO_CAMPAIGN/claims" \
    -H "Authorization: Bearer $COUPOND_ISSUE_KEY" -H 'Content-Type: application/json' -d '{"user_id":"alice","request_id":"check-1"}'
}
shards=$(curl -sf "$url/v1/campaigns/$COUPOND_DEMO_CAMPAIGN" -H "Authorization: Bearer $COUPOND_ADMIN_KEY" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin).get("shards"))')
[ "$shards" = 3 ] || fail "demo campaign has shards=$shards, expected 3"
[ "$(claim)" = 201 ] || fail "claim through HAProxy: $(cat "$dir/claim.json")"
first=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["code"])' "$dir/claim.json")
[ "$(claim)" = 201 ] || fail "retried claim through HAProxy: $(cat "$dir/claim.json")"
again=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["code"])' "$dir/claim.json")
[ "$first" = "$again" ] || fail "the retry returned another coupon ($first, $again)"
pids=$(awk '{print $1}' "$dir/pids")
[ "$(echo "$pids" | wc -w)" = 7 ] || fail "expected 7 processes (3 redis, postgres, 2 nodes, haproxy): $pids"

kill -TERM "$script"
wait "$script" || true
stopped=$(date +%s.%N)
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null; then fail "process $pid still running after stop"; fi
done
[ ! -e "$dir" ] || fail "$dir not removed"
grep -q '^stopped$' "$log" || fail "no 'stopped' line"
python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" || fail "port $port still bound"
printf 'FIGURE: make cluster up in %.1f s; claim on the shards:3 demo campaign through HAProxy 201 (retry same coupon); stopped all 7 processes in %.1f s\n' \
  "$(echo "$up - $started" | bc)" "$(echo "$stopped - $up" | bc)"
rm -f "$log"
