#!/usr/bin/env bash
# Starts (or stops) a wcomp-registry cluster for tests and benchmarks: N replicas of the real
# binary sharing one S3 bucket and one PostgreSQL database, behind haproxy configured from
# registry-server/deploy/haproxy.cfg (only addresses and ports rewritten).
#
#   cluster.sh start DIR [noauth|auth]   prints the balancer's host:port on stdout
#   cluster.sh stop DIR
#
# Environment:
#   WCOMP_REGISTRY_BIN     the server binary (required)
#   WCOMP_TEST_POSTGRES    a PostgreSQL URL (scripts/postgres.sh); a fresh database is made
#   WCOMP_TEST_S3          an S3 endpoint (scripts/seaweedfs.sh); a fresh bucket is made
#   WCOMP_REPLICAS         how many replicas (default 3)
#   WCOMP_CLUSTER_CACHE    0: no blob cache in the replicas' data dirs (default: 2 GiB each)
#   WCOMP_ADMIN_PASSWORD   the first admin's password in auth mode (default: random, in
#                          DIR/admin-password)
# DIR gets registry.toml, haproxy.cfg, replica-N.log, replica-N.pid, replica-N.port.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cmd=${1:?usage: cluster.sh start|stop DIR [noauth|auth]}
dir=${2:?usage: cluster.sh start|stop DIR [noauth|auth]}
mode=${3:-noauth}

stop() {
  for f in "$dir"/*.pid; do
    [ -e "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

free_port() {
  local p
  while :; do
    # Below Linux's ephemeral range (32768-60999), where an outgoing connection's local
    # port can make a bind fail though nothing listens there.
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

wait_http() {
  local url=$1 pid=$2 i
  for i in $(seq 1 300); do
    curl -s -o /dev/null "$url" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

case "$cmd" in
stop) stop; exit 0 ;;
start) ;;
*) echo "usage: cluster.sh start|stop DIR [noauth|auth]" >&2; exit 2 ;;
esac

bin=${WCOMP_REGISTRY_BIN:?WCOMP_REGISTRY_BIN is required}
pg=${WCOMP_TEST_POSTGRES:?WCOMP_TEST_POSTGRES is required (scripts/postgres.sh)}
s3=${WCOMP_TEST_S3:?WCOMP_TEST_S3 is required (scripts/seaweedfs.sh)}
n=${WCOMP_REPLICAS:-3}
command -v haproxy >/dev/null 2>&1 || {
  echo "cluster: haproxy is not installed (apt-get install haproxy)" >&2
  exit 2
}
mkdir -p "$dir"
stop

name="c$(date +%s)$RANDOM"
psql -q "$pg" -c "CREATE DATABASE $name" >/dev/null
db_url="${pg%/*}/$name"
echo "$db_url" >"$dir/database-url"
password=${WCOMP_ADMIN_PASSWORD:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
echo "$password" >"$dir/admin-password"

cat >"$dir/registry.toml" <<TOML
# haproxy runs on loopback: client addresses come from its X-Forwarded-For.
trusted_proxies = ["127.0.0.1"]

[auth]
enabled = $([ "$mode" = auth ] && echo true || echo false)
# The tests read each replica's counters.
anonymous_metrics = true

[gc]
grace_secs = 3600

[metadata]
backend = "postgres"
url = "$db_url"
pool_size = 8

[storage]
backend = "s3"
bucket = "wcomp-cluster"
endpoint = "$s3"
region = "us-east-1"
prefix = "$name/"
create_bucket = true
access_key_id = "${WCOMP_S3_ACCESS_KEY:-wcomp-test}"
secret_access_key = "${WCOMP_S3_SECRET_KEY:-wcomp-test-secret}"
TOML
# Each replica keeps the blobs it served in its own data dir (WCOMP_CLUSTER_CACHE=0: off).
if [ "${WCOMP_CLUSTER_CACHE:-1}" != 0 ]; then
  printf 'cache_dir = "blob-cache"\ncache_max_bytes = %s\n' "$((2 << 30))" >>"$dir/registry.toml"
fi

lb_port=$(free_port)
servers=""
for i in $(seq 1 "$n"); do
  port=$(free_port)
  echo "$port" >"$dir/replica-$i.port"
  env -u WCOMP_REGISTRY_LISTEN -u WCOMP_REGISTRY_DATA_DIR -u WCOMP_REGISTRY_DATABASE_URL \
    WCOMP_REGISTRY_ADMIN_PASSWORD="$password" WCOMP_REGISTRY_LOG="${WCOMP_REGISTRY_LOG:-warn}" \
    "$bin" serve --config "$dir/registry.toml" --data-dir "$dir/data-$i" \
    --listen "127.0.0.1:$port" >"$dir/replica-$i.log" 2>&1 &
  echo $! >"$dir/replica-$i.pid"
  # The first replica migrates the schema, makes the bucket and the admin; the others
  # start after it so that the test does not depend on start-up races.
  if [ "$i" = 1 ]; then
    wait_http "http://127.0.0.1:$port/healthz" "$!" || {
      echo "cluster: replica 1 did not start; its log:" >&2
      cat "$dir/replica-1.log" >&2
      stop
      exit 2
    }
  fi
  servers+="    server r$i 127.0.0.1:$port check"$'\n'
done
for i in $(seq 2 "$n"); do
  wait_http "http://127.0.0.1:$(cat "$dir/replica-$i.port")/healthz" "$(cat "$dir/replica-$i.pid")" || {
    echo "cluster: replica $i did not start; its log:" >&2
    cat "$dir/replica-$i.log" >&2
    stop
    exit 2
  }
done

# The repo's config with this run's ports: the frontend's bind and the server lines.
awk -v bind="127.0.0.1:$lb_port" -v servers="$servers" '
  /^    bind / { print "    bind " bind; next }
  /^    server r[0-9]+ / { if (!done) { printf "%s", servers; done = 1 } next }
  { print }
' "$here/deploy/haproxy.cfg" >"$dir/haproxy.cfg"
haproxy -c -q -f "$dir/haproxy.cfg"
haproxy -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
echo $! >"$dir/haproxy.pid"
wait_http "http://127.0.0.1:$lb_port/healthz" "$!" || {
  echo "cluster: haproxy did not start; its log:" >&2
  cat "$dir/haproxy.log" >&2
  stop
  exit 2
}
# Every replica must be up in haproxy's eyes before the tests start.
sleep 2
echo "127.0.0.1:$lb_port"
