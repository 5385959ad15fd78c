#!/usr/bin/env bash
# Installs the real OCI clients the registry's interop tests drive. Idempotent: does nothing
# for a client that is already there. The interop tests skip themselves when a client is
# missing, so this script is needed only to run them, not to build or run the rest.
#
#   skopeo           from Debian (apt)
#   docker-registry  from Debian (apt): distribution 2.8, a registry with no referrers API,
#                    for wcomp publish/pull's cosign tag fallback (cli/tests/publish.rs)
#   oras             built from the Go module proxy in a throwaway module (the proxy refuses
#                    `go install ...@version` here because it asks for version lists)
#   cosign           built the same way (a few minutes on 2 cores, once; cached in $bin),
#                    to check that cosign accepts wcomp's signatures and attestations
#   wkg              `cargo install --locked` from crates.io (wasm-pkg-tools): 10-18 minutes
#                    of compiling on 2 cores, once per machine (cached in wcomp's tools dir)
#   warg-server      `cargo install --locked` from crates.io, the same way, for the warg
#                    tests (cli/tests/warg.rs, `--features warg`)
#   chromium,        from Debian (apt), for the web interface's browser test
#   chromium-driver  (tests/ui_browser.rs, driven over WebDriver)
#   axe-core         from npm into wcomp's tools dir, the accessibility checks of that test
#
# Binaries land in $WCOMP_TEST_BIN (default: registry-server/target-tools/bin), which the
# tests also search.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${WCOMP_TEST_BIN:-$here/target-tools/bin}"
mkdir -p "$bin"

apt_missing=()
command -v skopeo >/dev/null 2>&1 || apt_missing+=(skopeo)
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || apt_missing+=(docker-registry)
command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_missing+=(chromium-driver)
if [ ${#apt_missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
    # The package starts a registry on :5000 as a service; the tests start their own.
    if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
  else
    echo "${apt_missing[*]}: no apt-get here; skipping" >&2
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

COSIGN_VERSION=v2.5.2
# Built once per machine into wcomp's tools dir (outside the clone, so a fresh CI clone
# does not rebuild it), then linked into $bin where the tests look.
tools="${WCOMP_TOOLS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/wcomp/tools}"
cosign_cached="$tools/cosign-$COSIGN_VERSION/cosign"
if [ ! -x "$bin/cosign" ] && ! command -v cosign >/dev/null 2>&1; then
  if [ ! -x "$cosign_cached" ]; then
    if command -v go >/dev/null 2>&1; then
      echo "== building cosign $COSIGN_VERSION from the Go module proxy (a few minutes, once)"
      mkdir -p "$(dirname "$cosign_cached")"
      work_cosign="$(mktemp -d)"
      (
        cd "$work_cosign"
        go mod init tmp >/dev/null 2>&1
        go get "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
        go build -o "$cosign_cached.tmp" github.com/sigstore/cosign/v2/cmd/cosign
      )
      mv "$cosign_cached.tmp" "$cosign_cached"
      rm -rf "$work_cosign"
    else
      echo "cosign: no Go toolchain here; skipping" >&2
    fi
  fi
  if [ -x "$cosign_cached" ]; then ln -sf "$cosign_cached" "$bin/cosign"; fi
fi

# axe-core for the browser test's accessibility checks: one pinned release from npm, in
# wcomp's tools dir (the test finds `<tools>/*/node_modules/axe-core/axe.min.js`).
AXE_VERSION=4.10.3
axe_dir="$tools/axe-core-$AXE_VERSION"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p "$axe_dir"
    npm install --silent --no-audit --no-fund --prefix "$axe_dir" "axe-core@$AXE_VERSION" >&2
  else
    echo "axe-core: no npm here; skipping" >&2
  fi
fi

echo "test clients: cosign=$( [ -x "$bin/cosign" ] && echo "$bin/cosign" || command -v cosign || echo missing) docker-registry=$(command -v docker-registry || echo missing)"

# wkg 0.16 is the first release without warg. Built once per machine
# into wcomp's tools dir, like cosign, then linked into $bin where the tests look.
WKG_VERSION=0.16.1
wkg_ok() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -qx "wkg $WKG_VERSION"; }
wkg_cached="$tools/wkg-$WKG_VERSION/bin/wkg"
if ! wkg_ok "$bin/wkg" && ! wkg_ok "$(command -v wkg || true)"; then
  if ! wkg_ok "$wkg_cached"; then
    if command -v cargo >/dev/null 2>&1; then
      echo "== cargo install wkg $WKG_VERSION (several minutes, once per machine)"
      cargo install --locked --quiet wkg --version "$WKG_VERSION" --root "$tools/wkg-$WKG_VERSION"
    else
      echo "wkg: no cargo here; skipping" >&2
    fi
  fi
  if wkg_ok "$wkg_cached"; then ln -sf "$wkg_cached" "$bin/wkg"; fi
fi
# warg-server 0.10.0, the last warg release, for
# `wcomp publish/pull warg://...` (cli/tests/warg.rs). Same caching as wkg.
WARG_VERSION=0.10.0
warg_ok() { [ -x "$1" ] && "$1" --help >/dev/null 2>&1; }
warg_cached="$tools/warg-server-$WARG_VERSION/bin/warg-server"
if ! warg_ok "$bin/warg-server" && ! warg_ok "$(command -v warg-server || true)"; then
  if ! warg_ok "$warg_cached"; then
    if command -v cargo >/dev/null 2>&1; then
      echo "== cargo install warg-server $WARG_VERSION (a few minutes, once per machine)"
      cargo install --locked --quiet warg-server --version "$WARG_VERSION" --root "$tools/warg-server-$WARG_VERSION"
    else
      echo "warg-server: no cargo here; skipping" >&2
    fi
  fi
  if warg_ok "$warg_cached"; then ln -sf "$warg_cached" "$bin/warg-server"; fi
fi
warg_at() { if warg_ok "$bin/warg-server"; then echo "$bin/warg-server"; else command -v warg-server || echo missing; fi; }

wkg_at() { if wkg_ok "$bin/wkg"; then echo "$bin/wkg"; else command -v wkg || echo missing; fi; }
echo "test clients: chromium=$(command -v chromium || echo missing) chromedriver=$(command -v chromedriver || echo missing) axe-core=$( [ -f "$axe_dir/node_modules/axe-core/axe.min.js" ] && echo "$AXE_VERSION" || echo missing)"
echo "test clients: skopeo=$(command -v skopeo || echo missing) oras=$( [ -x "$bin/oras" ] && echo "$bin/oras" || command -v oras || echo missing) wkg=$(wkg_at) warg-server=$(warg_at)"

# The OCI distribution-spec conformance suite (tests/conformance.rs), pinned and built from
# the Go module proxy by conformance.sh itself; skipped without Go.
if command -v go >/dev/null 2>&1; then
  WCOMP_TEST_BIN="$bin" "$here/scripts/conformance.sh" --install
else
  echo "oci conformance suite: no Go toolchain here; skipping" >&2
fi
