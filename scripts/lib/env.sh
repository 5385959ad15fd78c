# Shared by the scripts in scripts/: make sure the Rust toolchain wcomp needs is there.
# Sourced, not run.

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found on PATH" >&2
    echo "hint: install Rust with rustup (https://rustup.rs), then run this again" >&2
    exit 2
  fi
  # rustfmt and clippy ship as rustup components; a minimal toolchain lacks them.
  if command -v rustup >/dev/null 2>&1; then
    local installed
    installed=$(rustup component list --installed 2>/dev/null || true)
    for c in rustfmt clippy; do
      if ! grep -q "^$c" <<<"$installed"; then
        echo "== installing rustup component $c"
        rustup component add "$c"
      fi
    done
  fi
}
