#!/usr/bin/env bash
# `make fuzz`: property-based API fuzzing with schemathesis against the OpenAPI file, on a fresh
# Redis + PostgreSQL + node on loopback, once per role. Fails on any 5xx, crash or hang; the
# node must still be alive at the end. Bounded: MAX_EXAMPLES (40) per operation and role.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${COUPOND_BIN_DIR:-$root/.build/release}
# shellcheck source=stack.sh
. "$root/load-tests/stack.sh"
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis

start_redis
start_postgres
wait_backends
start_node
# shellcheck disable=SC1090
. "$keys_file"
status=0
for role in ADMIN ISSUE CHECKOUT FINANCE; do
  key_var=COUPOND_${role}_KEY
  echo "== schemathesis as $role"
  timeout 300 schemathesis run "$root/Sources/CouponService/openapi.yaml" --url "http://127.0.0.1:$node_port" \
    -H "Authorization: Bearer ${!key_var}" --checks not_a_server_error --max-examples "${MAX_EXAMPLES:-40}" \
    --request-timeout 5 2>&1 | grep -E "generated|failures|passed|Server error" || status=1
done
if kill -0 "$node_pid" 2>/dev/null; then echo "node alive"; else echo "node DIED"; status=1; fi
errors=$(grep -c '"level":"error"' "$run_dir/node.log" || true)
echo "node error log lines: $errors"
exit $status
