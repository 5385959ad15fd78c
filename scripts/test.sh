#!/usr/bin/env bash
# Runs all of wcomp's tests, installing what they need first. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
ensure_rust

echo "== language toolchains for the template tests"
scripts/install-toolchains.sh

echo "== OCI clients for the interop tests (skopeo, oras, docker-registry, cosign, wkg, warg-server), chromium, chromium-driver and axe-core for the web interface's browser test, and the OCI conformance suite"
registry-server/scripts/install-test-deps.sh
# Under CI a missing client is a failure, not a skip.
if [ -n "${CI:-}" ]; then
  export WCOMP_REQUIRE_INTEROP=1
fi

echo "== PostgreSQL for the pipeline test (Debian's package, a throwaway server)"
WCOMP_TEST_POSTGRES=$(scripts/postgres.sh)
# The CA of the server's TLS certificate, for the `sslmode=require` test.
WCOMP_TEST_POSTGRES_CA="${WCOMP_PG_DATA:-/tmp/wcomp-pg}-ca.pem"
export WCOMP_TEST_POSTGRES WCOMP_TEST_POSTGRES_CA

# The registry's PostgreSQL metadata suite, S3 storage suite and replica tests
# (registry-server/tests/cluster.rs) use these; under CI their absence is a failure.
echo "== SeaweedFS (S3) for the registry's storage and replica tests (built once into the tools dir)"
stage_start=$SECONDS
WCOMP_TEST_S3=$(scripts/seaweedfs.sh)
export WCOMP_TEST_S3
echo "   (took $((SECONDS - stage_start)) s)"

echo "== haproxy (Debian) for the registry's replica tests"
if ! command -v haproxy >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends haproxy
  # The package starts a balancer as a service; the tests start their own.
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now haproxy >/dev/null 2>&1 || true; fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

# wcomp is checked and tested with its `warg` feature (warg-client and its older wasm-tools
# set; publish/pull against a real warg-server), which is a superset of the default build;
# one clippy run of the default wcomp covers the code only it has (the no-warg message).
echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked --features wcomp/warg -- -D warnings
cargo clippy -p wcomp --locked -- -D warnings

echo "== dependency rules"
scripts/check-deps.sh

echo "== cargo test"
cargo test --workspace --locked --features wcomp/warg

# The OCI conformance suite once more, through haproxy in round-robin to three replicas on
# S3 + PostgreSQL, with and without auth (the single-server run is in cargo test).
echo "== OCI conformance: three replicas behind haproxy"
stage_start=$SECONDS
WCOMP_CONFORMANCE_CLUSTER=1 WCOMP_REGISTRY_BIN="${CARGO_TARGET_DIR:-target}/debug/wcomp-registry" \
  registry-server/scripts/conformance.sh
echo "   (took $((SECONDS - stage_start)) s)"
