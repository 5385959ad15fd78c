#!/usr/bin/env bash
# Runs all of wcomp's tests, installing what they need first. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
ensure_rust

# Each stage says how long the previous one took, so a slow CI run shows where.
stage_start=$SECONDS
stage_end() {
  if [ -n "${stage_name:-}" ]; then echo "   (took $((SECONDS - stage_start)) s)"; fi
}
stage() {
  stage_end
  stage_name=$1 stage_start=$SECONDS
  echo "== $1"
}
trap stage_end EXIT
stage "language toolchains for the template tests"
scripts/install-toolchains.sh

stage "OCI clients for the interop tests (skopeo, oras, docker-registry, cosign, wkg, warg-server), chromium, chromium-driver and axe-core for the web interface's browser test, and the OCI conformance suite"
registry-server/scripts/install-test-deps.sh
# Under CI a missing client is a failure, not a skip.
if [ -n "${CI:-}" ]; then
  export WCOMP_REQUIRE_INTEROP=1
fi

stage "PostgreSQL for the pipeline test (Debian's package, a throwaway server)"
WCOMP_TEST_POSTGRES=$(scripts/postgres.sh)
# The CA of the server's TLS certificate, for the `sslmode=require` test.
WCOMP_TEST_POSTGRES_CA="${WCOMP_PG_DATA:-/tmp/wcomp-pg}-ca.pem"
export WCOMP_TEST_POSTGRES WCOMP_TEST_POSTGRES_CA

# The registry's PostgreSQL metadata suite, S3 storage suite and replica tests
# (registry-server/tests/cluster.rs) use these; under CI their absence is a failure.
stage "SeaweedFS (S3) for the registry's storage and replica tests (built once into the tools dir)"
WCOMP_TEST_S3=$(scripts/seaweedfs.sh)
export WCOMP_TEST_S3

stage "haproxy (Debian) for the registry's replica tests"
if ! command -v haproxy >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends haproxy
  # The package starts a balancer as a service; the tests start their own.
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now haproxy >/dev/null 2>&1 || true; fi
fi

stage "cargo fmt --check"
# rustup's default profile has both; a minimal one may not.
rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
cargo fmt --all -- --check

stage "dependency rules"
scripts/check-deps.sh

# One build serves clippy and the tests: clippy-driver stands in for rustc on the
# workspace's own crates (it compiles exactly as rustc does, and runs clippy's lints with
# warnings as errors), so dependencies are compiled once, for the tests, and not a second
# time in check mode as `cargo clippy` would. The targets are those `cargo clippy
# --all-targets` checks (libraries, binaries, tests; the workspace has no benches or
# examples). wcomp is built with its `warg` feature (warg-client and its older wasm-tools
# set; publish/pull against a real warg-server), a superset of the default build: the
# default build's own code is the one-line "built without warg" answer in
# cli/src/ops/warg.rs and the two commands that return it.
stage "cargo test, with clippy's lints as errors in the same build"
# (scripts/lib/clippy-rustc leaves the Rust projects the tests build with plain rustc.)
WCOMP_CLIPPY_DRIVER="$(rustup which clippy-driver)"
RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/lib/clippy-rustc"
CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
export WCOMP_CLIPPY_DRIVER RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cargo test --workspace --locked --features wcomp/warg

# The OCI conformance suite once more, through haproxy in round-robin to three replicas on
# S3 + PostgreSQL, with and without auth (the single-server run is in cargo test).
stage "OCI conformance: three replicas behind haproxy"
WCOMP_CONFORMANCE_CLUSTER=1 WCOMP_REGISTRY_BIN="${CARGO_TARGET_DIR:-target}/debug/wcomp-registry" \
  registry-server/scripts/conformance.sh
