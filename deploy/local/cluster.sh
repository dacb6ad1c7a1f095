#!/usr/bin/env bash
# `make cluster` (issue 10 §3): a local distributed coupond — a 3-master Redis Cluster (AOF,
# appendfsync always), PostgreSQL 15, two coupond nodes and Debian's HAProxy in front of them
# on one port, with a demo campaign of `shards: 3`. Everything lives in a temporary directory and listens on
# free loopback ports (the HAProxy port is COUPOND_CLUSTER_PORT, 8090 by default, or a free one).
# Ctrl-C (or SIGTERM) stops everything it started, by pid, newest first; the directory is
# removed unless COUPOND_CLUSTER_KEEP=1. The pids are also written to $dir/pids.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${COUPOND_BIN:-$root/.build/debug/coupond}
pg_bin=/usr/lib/postgresql/15/bin
dir=$(mktemp -d /tmp/coupond-cluster.XXXXXX)
chmod 755 "$dir"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }

front_port=${COUPOND_CLUSTER_PORT:-8090}
port_free "$front_port" || front_port=$(free_port)

pids=()
names=()
started() { pids+=("$1"); names+=("$2"); echo "$1 $2" >>"$dir/pids"; }
cleanup() {
  trap - EXIT INT TERM
  echo "stopping: ${names[*]:-nothing}" >&2
  # Newest first: HAProxy, the nodes (SIGTERM: they drain and their flushers finish a batch),
  # PostgreSQL (SIGINT: fast shutdown), the Redis nodes.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    case "${names[i]}" in postgres | redis*) sig=INT ;; *) sig=TERM ;; esac
    kill -"$sig" "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [ "${COUPOND_CLUSTER_KEEP:-0}" = 1 ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
  echo "stopped" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq 1 $((seconds * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "timed out waiting for $what (logs in $dir)" >&2
  return 1
}

# Redis Cluster: 3 masters, bus ports chosen explicitly (port + 10000 may be taken).
seeds=()
for n in 1 2 3; do
  port=$(free_port)
  bus=$(free_port)
  mkdir -p "$dir/redis-$n"
  redis-server --port "$port" --cluster-port "$bus" --bind 127.0.0.1 --dir "$dir/redis-$n" --cluster-enabled yes \
    --cluster-config-file nodes.conf --appendonly yes --appendfsync always --save "" --daemonize no \
    >"$dir/redis-$n.log" 2>&1 &
  started $! "redis-$n"
  seeds+=("127.0.0.1:$port")
  wait_for 10 "redis-$n" redis-cli -p "$port" ping
done
redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes >"$dir/cluster-create.log" 2>&1
cluster_ok() { for seed in "${seeds[@]}"; do redis-cli -p "${seed##*:}" cluster info | grep -q cluster_state:ok || return 1; done; }
wait_for 30 "cluster_state:ok" cluster_ok

# PostgreSQL refuses to run as root: run it as the unprivileged 'postgres' user then (as `make run` does).
pg_port=$(free_port)
mkdir -p "$dir/pg"
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$dir/pg"
  setpriv --reuid=postgres --regid=postgres --init-groups -- "$pg_bin/initdb" -D "$dir/pg" -U postgres --auth=trust >"$dir/initdb.log" 2>&1
  (exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$pg_bin/postgres" -D "$dir/pg" -p "$pg_port" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir/pg" -c synchronous_commit=on >"$dir/postgres.log" 2>&1) &
else
  "$pg_bin/initdb" -D "$dir/pg" -U postgres --auth=trust >"$dir/initdb.log" 2>&1
  (exec "$pg_bin/postgres" -D "$dir/pg" -p "$pg_port" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir/pg" \
    -c synchronous_commit=on >"$dir/postgres.log" 2>&1) &
fi
started $! postgres
wait_for 30 PostgreSQL psql -h 127.0.0.1 -p "$pg_port" -U postgres -Atc 'select 1'
psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc 'create database coupond'

export COUPOND_REDIS_CLUSTER
COUPOND_REDIS_CLUSTER=$(IFS=,; echo "${seeds[*]}")
export COUPOND_POSTGRES="host=127.0.0.1 port=$pg_port dbname=coupond user=postgres"
"$bin" demo --keys-file "$dir/demo.env" --stock 10000 --per-user-limit 2 >/dev/null
# shellcheck disable=SC1091
. "$dir/demo.env"

# Two nodes. On SIGTERM a node answers /readyz 503 for 1 s while HAProxy (checking every
# 200 ms) takes it out, then drains.
node_ports=()
for name in node-a node-b; do
  port=$(free_port)
  COUPOND_PORT=$port COUPOND_NODE_ID=$name COUPOND_LOOPS=2 COUPOND_WORKERS=2 COUPOND_DRAIN_DELAY_SECONDS=1 \
    COUPOND_TRUSTED_PROXIES=127.0.0.1 "$bin" serve >"$dir/$name.log" 2>&1 &
  started $! "$name"
  node_ports+=("$port")
done
for port in "${node_ports[@]}"; do wait_for 30 "node on :$port" curl -sf "http://127.0.0.1:$port/readyz"; done

cat >"$dir/haproxy.cfg" <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
    option forwardfor
frontend coupond
    bind 127.0.0.1:$front_port
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 200ms fall 1 rise 2
    server node-a 127.0.0.1:${node_ports[0]} check
    server node-b 127.0.0.1:${node_ports[1]} check
CFG
haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
started $! haproxy
wait_for 10 HAProxy curl -sf "http://127.0.0.1:$front_port/readyz"

url="http://127.0.0.1:$front_port"
echo "$url" >"$dir/url"

# The demo campaign: stock 10,000 split over 3 stock shards on the cluster's masters (issue 10 §1).
json_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
template=$(curl -sf -X POST "$url/v1/templates" -H "Authorization: Bearer $COUPOND_ADMIN_KEY" -H 'Content-Type: application/json' \
  -d '{"name":"Spend 200 save 30","currency":"CNY","kind":"amount_off","threshold":20000,"amount":3000,"validity":{"type":"relative","days":7}}' | json_id)
now=$(date +%s)
COUPOND_DEMO_CAMPAIGN=$(curl -sf -X POST "$url/v1/campaigns" -H "Authorization: Bearer $COUPOND_ADMIN_KEY" -H 'Content-Type: application/json' \
  -d "{\"template_id\":$template,\"name\":\"Demo flash sale (3 shards)\",\"stock\":10000,\"per_user_limit\":2,\"shards\":3,\"claim_start\":\"$(date -u -d @$((now - 60)) +%FT%TZ)\",\"claim_end\":\"$(date -u -d @$((now + 30 * 86400)) +%FT%TZ)\"}" | json_id)
echo "COUPOND_DEMO_CAMPAIGN=$COUPOND_DEMO_CAMPAIGN" >>"$dir/demo.env"
cat <<MSG

coupond cluster is up at $url  (HAProxy → node-a :${node_ports[0]}, node-b :${node_ports[1]})
Redis Cluster ${seeds[*]} · PostgreSQL :$pg_port · logs and keys in $dir
Demo campaign $COUPOND_DEMO_CAMPAIGN (stock 10000 over 3 shards, limit 2); keys in $dir/demo.env. Try:

  Console: $url/console/  (sign in with COUPOND_ADMIN_KEY from $dir/demo.env)

  curl -s -X POST $url/v1/campaigns/$COUPOND_DEMO_CAMPAIGN/claims \\
       -H "Authorization: Bearer $COUPOND_ISSUE_KEY" -d '{"user_id":"alice","request_id":"r-1"}'

Ctrl-C stops everything.
MSG
echo "ready $url" >"$dir/ready"

# Wait until Ctrl-C, or until something we started dies.
while true; do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
      echo "${names[i]} exited; see $dir/${names[i]}.log" >&2
      exit 1
    fi
  done
  sleep 1
done
