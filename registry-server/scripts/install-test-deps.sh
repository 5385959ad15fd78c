#!/usr/bin/env bash
# Installs the real OCI clients the registry's interop tests drive. Idempotent: does nothing
# for a client that is already there. The interop tests skip themselves when a client is
# missing, so this script is needed only to run them, not to build or run the rest.
#
#   skopeo  from Debian (apt)
#   oras    built from the Go module proxy in a throwaway module (the proxy refuses
#           `go install ...@version` here because it asks for version lists)
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

echo "test clients: skopeo=$(command -v skopeo || echo missing) oras=$( [ -x "$bin/oras" ] && echo "$bin/oras" || command -v oras || echo missing)"

# The OCI distribution-spec conformance suite (tests/conformance.rs), pinned and built from
# the Go module proxy by conformance.sh itself; skipped without Go.
if command -v go >/dev/null 2>&1; then
  WCOMP_TEST_BIN="$bin" "$here/scripts/conformance.sh" --install
else
  echo "oci conformance suite: no Go toolchain here; skipping" >&2
fi
