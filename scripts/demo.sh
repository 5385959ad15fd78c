#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs wcomp's main job: scaffold a component
# from a template, build it with the real toolchain, check it against its world; then the
# example pipeline: build a JavaScript, a Rust and a Go component, compose them into one,
# publish it signed (with SLSA provenance naming its parts) to a local wcomp-registry,
# pull it back with verification, verify it, and run the pulled component against a
# SQLite database.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
ensure_rust
scripts/install-toolchains.sh

echo "== building wcomp and wcomp-registry"
cargo build --locked -p wcomp -p wcomp-registry
wcomp=$PWD/target/debug/wcomp
registry_bin=$PWD/target/debug/wcomp-registry
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
echo "== the example pipeline: wcomp build builds three languages, then composes them (the HTTP service and the api)"
mkdir -p "$demo/pipeline"
(cd examples/pipeline && tar --exclude=build --exclude=target -cf - .) | (cd "$demo/pipeline" && tar -xf -)
(cd "$demo/pipeline" && "$wcomp" build)
# The composition that exports `api`, for `wcomp run --invoke`; build/pipeline.wasm is the
# same pipeline behind its HTTP front, for `wcomp serve`.
pipeline=$demo/pipeline/build/pipeline-api.wasm

echo
echo "== wcomp inspect: what the composition is made of"
"$wcomp" inspect "$pipeline" | sed -n '1,12p'

echo
echo "== a local registry (wcomp-registry) and a signing key"
export WCOMP_CONFIG_DIR=$demo/config
export WCOMP_KEY_PASSWORD=demo-passphrase
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WCOMP_REGISTRY_ADMIN_PASSWORD=demo-admin "$registry_bin" serve \
  --listen "127.0.0.1:$port" --data-dir "$demo/registry-data" >"$demo/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
echo demo-admin | "$wcomp" login "127.0.0.1:$port" -u admin --password-stdin
"$wcomp" key generate --name demo
"$wcomp" key export demo >"$demo/demo.pub"
"$wcomp" key trust "$demo/demo.pub" --for "127.0.0.1:$port/demo/**"

ref=127.0.0.1:$port/demo/pipeline:0.1.0
echo
echo "== wcomp publish: signed, with provenance listing the composition's parts"
"$wcomp" publish "$pipeline" "$ref"

echo
echo "== wcomp pull: digest, signature and attestation checked before anything is written"
"$wcomp" pull "$ref" -o "$demo/pulled.wasm"

echo
echo "== wcomp verify: who signed, and what the composition is made of"
"$wcomp" verify "$ref"

echo
echo "== wcomp run (the pulled component): ingest sign-ups (the first run compiles it; later runs use the cache)"
"$wcomp" run "$demo/pulled.wasm" --db "sqlite:$demo/signups.db" --invoke \
  'ingest([{email: " Ada@Example.COM ", name: "Ada Lovelace", age: 36, country: "gb"},
           {email: "not-an-address", name: "", age: 7, country: "XX"}])'
echo
echo "== wcomp run: a second run sees the stored rows"
"$wcomp" run "$demo/pulled.wasm" --db "sqlite:$demo/signups.db" --invoke 'query(none)'

service_ref=127.0.0.1:$port/demo/pipeline-service:0.1.0
echo
echo "== wcomp publish: the same pipeline behind its HTTP front (build/pipeline.wasm), signed"
"$wcomp" publish "$demo/pipeline/build/pipeline.wasm" "$service_ref"

echo
echo "== wcomp serve: pulled from the registry, verified, then served as a REST service"
serve_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$wcomp" serve "$service_ref" --db "sqlite:$demo/service.db" --listen "127.0.0.1:$serve_port" \
  >"$demo/serve-access.log" 2>"$demo/serve.log" &
serve_pid=$!
trap 'kill $registry_pid $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q "listening on" "$demo/serve.log" 2>/dev/null && break
  if ! kill -0 "$serve_pid" 2>/dev/null; then cat "$demo/serve.log" >&2; exit 1; fi
  sleep 0.1
done
sed -n '1,4p' "$demo/serve.log"
echo
echo "\$ curl -X POST http://127.0.0.1:$serve_port/signups -d '[...]'"
curl -fsS -X POST "http://127.0.0.1:$serve_port/signups" -H 'content-type: application/json' -d '[
  {"email": " Ada@Example.COM ", "name": "Ada Lovelace", "age": 36, "country": "gb"},
  {"email": "not-an-address", "name": "", "age": 7, "country": "XX"}]'
echo
echo "\$ curl http://127.0.0.1:$serve_port/signups?country=GB"
curl -fsS "http://127.0.0.1:$serve_port/signups?country=GB"
echo
echo "\$ curl -X POST http://127.0.0.1:$serve_port/signups -d 'not json'   (400 expected)"
code=$(curl -sS -o "$demo/bad.json" -w '%{http_code}' -X POST "http://127.0.0.1:$serve_port/signups" -d 'not json')
cat "$demo/bad.json"; echo
if [ "$code" != 400 ]; then
  echo "error: expected 400 for a body that is not JSON, got $code" >&2
  exit 1
fi
kill -TERM "$serve_pid"
wait "$serve_pid"
echo
echo "== the access log"
cat "$demo/serve-access.log"

echo
echo "demo finished: wcomp is at $wcomp; the demo projects are in $demo"
