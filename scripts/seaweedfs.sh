#!/usr/bin/env bash
# Starts a throwaway SeaweedFS (a real S3-compatible object store) for the tests, building it
# first from the Go module proxy into wcomp's tools dir when it is missing (about 6 minutes
# on 2 cores, once per machine), and prints its S3 endpoint on stdout.
# Idempotent: a server already answering on the S3 port is reused. One S3 identity is
# configured, access key `wcomp-test`, secret `wcomp-test-secret` (anonymous requests are
# refused, so the tests can check that wrong credentials are named).
#   --install         build only, start nothing
#   WCOMP_S3_PORT     S3 port (default 18333; master, volume and filer use the next three,
#                     and SeaweedFS puts their gRPC ports 10000 above those)
#   WCOMP_S3_DATA     data directory (default /tmp/wcomp-seaweedfs)
set -euo pipefail
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
tools="${WCOMP_TOOLS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/wcomp/tools}"
weed="$tools/seaweedfs-$SEAWEEDFS_VERSION/weed"

if [ ! -x "$weed" ]; then
  command -v go >/dev/null 2>&1 || { echo "seaweedfs: no Go toolchain here to build it" >&2; exit 2; }
  echo "== building SeaweedFS $SEAWEEDFS_VERSION from the Go module proxy (about 6 minutes, once)" >&2
  mkdir -p "$(dirname "$weed")"
  work="$(mktemp -d)"
  (
    cd "$work"
    go mod init tmp >/dev/null 2>&1
    # The package path (not the module) so go.sum gets every entry the build needs.
    go get "github.com/seaweedfs/seaweedfs/weed@$SEAWEEDFS_VERSION" >&2
    go build -o "$weed.tmp" github.com/seaweedfs/seaweedfs/weed >&2
  )
  mv "$weed.tmp" "$weed"
  rm -rf "$work"
fi
[ "${1:-}" = "--install" ] && exit 0

port=${WCOMP_S3_PORT:-18333}
data=${WCOMP_S3_DATA:-/tmp/wcomp-seaweedfs}
endpoint="http://127.0.0.1:$port"
up() { curl -s -o /dev/null "$endpoint/" 2>/dev/null; }
if up; then echo "$endpoint"; exit 0; fi

rm -rf "$data"
mkdir -p "$data"
cat >"$data/s3.json" <<'JSON'
{"identities": [{"name": "wcomp-test",
  "credentials": [{"accessKey": "wcomp-test", "secretKey": "wcomp-test-secret"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
# One process holds master, volume, filer and the S3 gateway. Every bucket is a collection
# with volumes of its own: small volumes and many of them, so that the test buckets do
# not run out (the tests share a few buckets and use key prefixes).
nohup "$weed" server -dir="$data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.config="$data/s3.json" \
  -master.port=$((port + 1)) -master.volumeSizeLimitMB=64 \
  -volume.port=$((port + 2)) -volume.max=300 \
  -filer.port=$((port + 3)) -s3 -s3.port="$port" >"$data/server.log" 2>&1 &
echo $! >"$data/pid"
pid=$(cat "$data/pid")
for _ in $(seq 1 120); do
  if up; then echo "$endpoint"; exit 0; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
echo "seaweedfs did not answer on $endpoint within 60 s; log: $data/server.log" >&2
tail -20 "$data/server.log" >&2
exit 2
