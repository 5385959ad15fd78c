#!/usr/bin/env bash
# Installs the real OCI clients the registry's interop tests drive. Idempotent: does nothing
# for a client that is already there. The interop tests skip themselves when a client is
# missing, so this script is needed only to run them, not to build or run the rest.
#
#   skopeo  from Debian (apt)
#   oras    built from the Go module proxy in a throwaway module (the proxy refuses
#           `go install ...@version` here because it asks for version lists)
#   wkg     `cargo install --locked` from crates.io (wasm-pkg-tools): 18 minutes of compiling
#           on the project's 2-core machine while other builds ran; once, since it is
#           skipped when the pinned version is already there
#
# Binaries land in $WCOMP_TEST_BIN (default: registry-server/target-tools/bin), which the
# tests also search.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${WCOMP_TEST_BIN:-$here/target-tools/bin}"
mkdir -p "$bin"

if ! command -v skopeo >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends skopeo
  else
    echo "skopeo: no apt-get here; skipping" >&2
  fi
fi

ORAS_VERSION=v1.2.3
if [ ! -x "$bin/oras" ] && ! command -v oras >/dev/null 2>&1; then
  if command -v go >/dev/null 2>&1; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    (
      cd "$work"
      go mod init tmp >/dev/null 2>&1
      go get "oras.land/oras/cmd/oras@$ORAS_VERSION"
      go build -o "$bin/oras" oras.land/oras/cmd/oras
    )
  else
    echo "oras: no Go toolchain here; skipping" >&2
  fi
fi

# wkg 0.16 is the first release without warg (DESIGN.md section 1).
WKG_VERSION=0.16.1
wkg_ok() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -qx "wkg $WKG_VERSION"; }
if ! wkg_ok "$bin/wkg" && ! wkg_ok "$(command -v wkg || true)"; then
  if command -v cargo >/dev/null 2>&1; then
    echo "== cargo install wkg $WKG_VERSION (several minutes, once)"
    root="$(mktemp -d)"
    cargo install --locked --quiet wkg --version "$WKG_VERSION" --root "$root"
    install -m 0755 "$root/bin/wkg" "$bin/wkg"
    rm -rf "$root"
  else
    echo "wkg: no cargo here; skipping" >&2
  fi
fi
wkg_at() { if wkg_ok "$bin/wkg"; then echo "$bin/wkg"; else command -v wkg || echo missing; fi; }

echo "test clients: skopeo=$(command -v skopeo || echo missing) oras=$( [ -x "$bin/oras" ] && echo "$bin/oras" || command -v oras || echo missing) wkg=$(wkg_at)"
