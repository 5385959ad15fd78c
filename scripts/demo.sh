#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs wcomp's main job as it stands today:
# build wcomp, then inspect a component and check components against a WIT world.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
ensure_rust

echo "== building wcomp"
cargo build --locked -p wcomp
wcomp=target/debug/wcomp
ex=examples/getting-started

echo
echo "== wcomp inspect $ex/greeter.wat"
"$wcomp" inspect "$ex/greeter.wat"

echo
echo "== wcomp validate (one conforms, one does not; exit code 1 is expected)"
set +e
"$wcomp" validate "$ex/greeter.wat" "$ex/greeter-old.wat" --wit "$ex/wit"
code=$?
set -e
if [ "$code" -ne 1 ]; then
  echo "error: expected exit code 1 (one component does not conform), got $code" >&2
  exit 1
fi
echo
echo "demo finished: wcomp is at $wcomp"
