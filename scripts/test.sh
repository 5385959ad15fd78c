#!/usr/bin/env bash
# Runs all of wcomp's tests, installing what they need first. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
ensure_rust

echo "== language toolchains for the template tests"
scripts/install-toolchains.sh

echo "== OCI clients for the interop tests (skopeo, oras, docker-registry, cosign, wkg, warg-server) and the OCI conformance suite"
registry-server/scripts/install-test-deps.sh
# Under CI a missing client is a failure, not a skip.
if [ -n "${CI:-}" ]; then
  export WCOMP_REQUIRE_INTEROP=1
fi

echo "== PostgreSQL for the pipeline test (Debian's package, a throwaway server)"
WCOMP_TEST_POSTGRES=$(scripts/postgres.sh)
export WCOMP_TEST_POSTGRES

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
