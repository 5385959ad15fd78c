#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs wcomp's main job as far as it goes
# today: scaffold a component from a template, build it with the real toolchain, check it
# against its world, inspect it; then show what a mismatch looks like.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
ensure_rust
scripts/install-toolchains.sh

echo "== building wcomp"
cargo build --locked -p wcomp
wcomp=$PWD/target/debug/wcomp
demo=$PWD/target/demo
rm -rf "$demo"
mkdir -p "$demo"

echo
echo "== wcomp doctor"
"$wcomp" doctor || true

echo
echo "== wcomp new rust $demo/hello"
"$wcomp" new rust "$demo/hello" --name demo:hello

echo
echo "== wcomp build (in $demo/hello)"
(cd "$demo/hello" && "$wcomp" build)

echo
echo "== wcomp validate build/hello.wasm --allow-wasi"
(cd "$demo/hello" && "$wcomp" validate build/hello.wasm --allow-wasi)

echo
echo "== wcomp inspect build/hello.wasm"
(cd "$demo/hello" && "$wcomp" inspect build/hello.wasm)

ex=examples/getting-started
echo
echo "== wcomp validate: one component conforms, one does not (exit code 1 expected)"
set +e
"$wcomp" validate "$ex/greeter.wat" "$ex/greeter-old.wat" --wit "$ex/wit"
code=$?
set -e
if [ "$code" -ne 1 ]; then
  echo "error: expected exit code 1 (one component does not conform), got $code" >&2
  exit 1
fi
echo
echo "demo finished: wcomp is at $wcomp; the demo project is in $demo/hello"
