#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs wcomp's main job: scaffold a component
# from a template, build it with the real toolchain, check it against its world; then the
# example pipeline: build a JavaScript, a Rust and a Go component, compose them into one,
# and run it against a SQLite database.
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
echo "== the example pipeline: wcomp build builds three languages, then composes them"
mkdir -p "$demo/pipeline"
(cd examples/pipeline && tar --exclude=build --exclude=target -cf - .) | (cd "$demo/pipeline" && tar -xf -)
(cd "$demo/pipeline" && "$wcomp" build)
pipeline=$demo/pipeline/build/pipeline.wasm

echo
echo "== wcomp inspect: what the composition is made of"
"$wcomp" inspect "$pipeline" | sed -n '1,12p'

echo
echo "== wcomp run: ingest sign-ups (the first run compiles the component; later runs use the cache)"
"$wcomp" run "$pipeline" --db "sqlite:$demo/signups.db" --invoke \
  'ingest([{email: " Ada@Example.COM ", name: "Ada Lovelace", age: 36, country: "gb"},
           {email: "not-an-address", name: "", age: 7, country: "XX"}])'
echo
echo "== wcomp run: a second run sees the stored rows"
"$wcomp" run "$pipeline" --db "sqlite:$demo/signups.db" --invoke 'query(none)'

echo
echo "demo finished: wcomp is at $wcomp; the demo projects are in $demo"
