#!/usr/bin/env bash
# The analysis library is shared with the registry server, which must stay free of
# runtimes and build tooling (docs/architecture.md). Fail if that creeps in.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for pkg in wcomp-core wcomp-wasm wcomp-compose wcomp-trust wcomp-oci $(cargo metadata --no-deps --format-version 1 | grep -o '"name":"wcomp-registry"' | head -1 | cut -d'"' -f4); do
  tree=$(cargo tree -p "$pkg" -e normal --prefix none --locked)
  for banned in wasmtime cranelift-codegen wit-bindgen; do
    if grep -q "^$banned " <<<"$tree"; then
      echo "error: $pkg depends on $banned" >&2
      status=1
    fi
  done
done
# One wasm-tools version line: a second wasmparser major costs minutes of build time.
majors=$(cargo tree --workspace -e normal --prefix none --locked | grep -o '^wasmparser v[0-9.]*' | sort -u)
if [ "$(wc -l <<<"$majors")" -gt 1 ]; then
  echo "warning: several wasmparser versions in the tree:" >&2
  echo "$majors" >&2
fi
# The trust library is meant for the server too: no CLI or progress-bar crates in it.
trust_tree=$(cargo tree -p wcomp-trust -e normal --prefix none --locked)
for banned in clap indicatif reqwest tokio; do
  if grep -q "^$banned " <<<"$trust_tree"; then
    echo "error: wcomp-trust depends on $banned" >&2
    status=1
  fi
done
# Every declared dependency is used (cargo-machete, installed by install-toolchains.sh).
tools=${WCOMP_TOOLS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/wcomp/tools}
machete=$tools/cargo-machete/bin/cargo-machete
if [ -x "$machete" ]; then
  # The workspace's own crates and the examples (templates/ holds Cargo.toml files with
  # placeholders, which are not packages).
  "$machete" cli crates registry-server examples || status=1
else
  echo "error: cargo-machete is not installed; run scripts/install-toolchains.sh" >&2
  status=1
fi
[ $status -eq 0 ] && echo "ok: analysis and trust crates are free of runtimes and build tooling, and no dependency is unused"
exit $status
