#!/usr/bin/env bash
# Runs the official OCI distribution-spec conformance suite against wcomp-registry, twice:
# without auth (--insecure-no-auth) and with auth (the first admin, Docker token flow). Every
# API and data test of the spec 1.1 profile is enabled explicitly (see the config below); the
# run fails on any FAIL, Error or Skip (a skip means an optional feature fell back, e.g. a
# mount that became an upload).
#
#   conformance.sh            build the suite if needed, run both passes, exit 1 on failure
#   conformance.sh --install  only build the suite (idempotent; install-test-deps.sh calls it)
#
# The suite is built from the Go module proxy (which serves pinned versions only) into
# $WCOMP_TEST_BIN (default: registry-server/target-tools/bin) as oci-conformance-<commit>.
# Environment:
#   WCOMP_REGISTRY_BIN         the server binary (default: `cargo build -p wcomp-registry`)
#   WCOMP_CONFORMANCE_RESULTS  where the suite's reports go (default: a temp dir, removed on
#                              success, kept and printed on failure)
#   WCOMP_CONFORMANCE_CLUSTER  when 1: run both passes against three replicas on S3 +
#                              PostgreSQL behind haproxy in round-robin (scripts/cluster.sh;
#                              needs WCOMP_TEST_POSTGRES and WCOMP_TEST_S3) instead of one
#                              server on a data dir
# Exit status: 0 all passed, 1 a test failed, 2 setup error (no Go, server did not start...).
set -euo pipefail

SUITE_MODULE=github.com/opencontainers/distribution-spec/conformance
SUITE_VERSION=v0.0.0-20260831232431-97274622c111

here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${WCOMP_TEST_BIN:-$here/target-tools/bin}"
suite="$bin/oci-conformance-${SUITE_VERSION##*-}"

install_suite() {
  [ -x "$suite" ] && return 0
  if ! command -v go >/dev/null 2>&1; then
    echo "conformance: no Go toolchain here; cannot build the suite" >&2
    return 2
  fi
  mkdir -p "$bin"
  local work
  work="$(mktemp -d)"
  (
    cd "$work"
    go mod init wcomp-conformance >/dev/null 2>&1
    go get "$SUITE_MODULE@$SUITE_VERSION"
    go build -o "$suite.tmp" "$SUITE_MODULE"
  ) || {
    rm -rf "$work" "$suite.tmp"
    echo "conformance: building the suite failed" >&2
    return 2
  }
  rm -rf "$work"
  mv "$suite.tmp" "$suite"
  echo "conformance: built $suite"
}

if [ "${1:-}" = "--install" ]; then
  install_suite || exit $?
  exit 0
fi
[ $# -eq 0 ] || {
  echo "usage: $0 [--install]" >&2
  exit 2
}

install_suite || exit $?

server_bin="${WCOMP_REGISTRY_BIN:-}"
if [ -z "$server_bin" ]; then
  (cd "$here/.." && cargo build -q -p wcomp-registry)
  server_bin="${CARGO_TARGET_DIR:-$here/../target}/debug/wcomp-registry"
fi
[ -x "$server_bin" ] || {
  echo "conformance: server binary $server_bin not found" >&2
  exit 2
}
command -v curl >/dev/null 2>&1 || {
  echo "conformance: curl is needed to wait for the server" >&2
  exit 2
}

work="$(mktemp -d)"
results="${WCOMP_CONFORMANCE_RESULTS:-$work/results}"
mkdir -p "$results"
server_pid=""
cluster_dir=""
cleanup() {
  if [ -n "$cluster_dir" ]; then
    "$here/scripts/cluster.sh" stop "$cluster_dir" || true
  fi
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Every setting spelled out, so a change of the suite's defaults cannot quietly disable a
# test. Beyond the 1.1 defaults we also require what the suite's "1.1+dev" profile adds and
# we implement: upload cancel (DELETE on a session) and Docker-Content-Digest on every blob
# and manifest response. Only tagParam (`?tag=` on a manifest PUT by digest) stays off.
cat >"$work/oci-conformance.yaml" <<'EOF'
version: "1.1"
tls: disabled
repo1: conformance/repo1
repo2: conformance/repo2
cacheAuth: true
logging: warn
apis:
  ping: true
  pull: true
  push: true
  blobs: {atomic: true, delete: true, digestHeader: true, mountAnonymous: true, uploadCancel: true}
  manifests: {atomic: true, delete: true, digestHeader: true, tagParam: false}
  tags: {atomic: true, delete: true, list: true}
  referrer: true
data:
  image: true
  index: true
  indexList: true
  sparse: false
  artifact: true
  subject: true
  subjectMissing: true
  artifactList: true
  subjectList: true
  dataField: true
  nondistributable: true
  customFields: true
  noLayers: true
  emptyBlob: true
  sha512: true
EOF

# Starts the server on a free loopback port; sets $server_pid and $server_addr.
start_server() {
  local mode=$1 data=$work/data-$1 attempt port
  if [ "${WCOMP_CONFORMANCE_CLUSTER:-}" = 1 ]; then
    cluster_dir="$work/cluster-$mode"
    server_addr=$(WCOMP_REGISTRY_BIN="$server_bin" WCOMP_ADMIN_PASSWORD="$admin_password" \
      "$here/scripts/cluster.sh" start "$cluster_dir" "$mode") || return 2
    return 0
  fi
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    # Below Linux's ephemeral range (32768-60999), where an outgoing connection's local
    # port can make a bind fail though nothing listens there.
    port=$((20000 + RANDOM % 12000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      continue # taken
    fi
    rm -rf "$data"
    local args=(serve --listen "127.0.0.1:$port" --data-dir "$data")
    [ "$mode" = noauth ] && args+=(--insecure-no-auth)
    env -u WCOMP_REGISTRY_CONFIG -u WCOMP_REGISTRY_LISTEN -u WCOMP_REGISTRY_DATA_DIR \
      WCOMP_REGISTRY_ADMIN_PASSWORD="$admin_password" WCOMP_REGISTRY_LOG=warn \
      "$server_bin" "${args[@]}" >"$work/server-$mode.log" 2>&1 &
    server_pid=$!
    local i
    for i in $(seq 1 200); do
      if curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then
        server_addr="127.0.0.1:$port"
        return 0
      fi
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  done
  echo "conformance: the server did not start; its log:" >&2
  cat "$work/server-$mode.log" >&2 || true
  return 2
}

stop_server() {
  if [ -n "$cluster_dir" ]; then
    # Every replica must have taken part: the balancer spread the suite's requests.
    local i n
    for i in 1 2 3; do
      n=$(curl -s "http://127.0.0.1:$(cat "$cluster_dir/replica-$i.port")/metrics" |
        sed -n 's/^wcomp_registry_requests_total //p')
      echo "conformance: replica $i served ${n:-?} requests"
    done
    "$here/scripts/cluster.sh" stop "$cluster_dir"
    cluster_dir=""
    return 0
  fi
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

admin_password="conformance-$RANDOM$RANDOM$RANDOM"
status=0
for mode in noauth auth; do
  start_server "$mode" || exit 2
  out="$results/$mode"
  mkdir -p "$out"
  creds=()
  if [ "$mode" = auth ]; then
    creds=(OCI_USERNAME=admin OCI_PASSWORD="$admin_password")
  fi
  # Only our settings: drop any OCI_* variable of the caller's environment (they override
  # the config file and could disable tests).
  unset_oci=()
  while IFS= read -r v; do unset_oci+=(-u "$v"); done < <(compgen -e | grep '^OCI_' || true)
  set +e
  (cd "$out" && env "${unset_oci[@]}" OCI_CONFIGURATION="$work/oci-conformance.yaml" \
    OCI_REGISTRY="$server_addr" OCI_RESULTS_DIR="$out" "${creds[@]}" \
    "$suite" >"$out/summary.txt" 2>"$out/stderr.txt")
  rc=$?
  set -e
  stop_server
  count() { sed -n "/^OCI Conformance Result:/,\$p" "$out/summary.txt" | grep -m1 "^  $1\.\." | grep -o '[0-9]*$' || echo "?"; }
  verdict=$(grep -m1 '^OCI Conformance Result:' "$out/summary.txt" | sed 's/.*: //' || true)
  pass=$(count Pass) fail=$(count FAIL) err=$(count Error) skip=$(count Skip) disabled=$(count Disabled)
  echo "conformance ($mode): ${verdict:-no result} pass=$pass fail=$fail error=$err skip=$skip disabled=$disabled"
  if [ "$rc" -ne 0 ] || [ "$verdict" != Pass ] || [ "$fail" != 0 ] || [ "$err" != 0 ] || [ "$skip" != 0 ] ||
    [ ! -s "$out/results.yaml" ]; then
    status=1
    grep -E ': (FAIL|Error|Skip)$' "$out/summary.txt" | head -40 >&2 || true
    grep -m20 'level=' "$out/stderr.txt" >&2 || true
    grep -v 'level=' "$out/stderr.txt" | tail -5 >&2 || true
  fi
done

if [ "$status" -ne 0 ] && [ -z "${WCOMP_CONFORMANCE_RESULTS:-}" ]; then
  # Keep the reports (report.html has every request and response).
  kept="$(mktemp -d "${TMPDIR:-/tmp}/wcomp-conformance.XXXXXX")"
  cp -r "$results"/. "$kept"/
  echo "conformance: FAILED; reports in $kept" >&2
fi
exit "$status"
