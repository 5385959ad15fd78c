//! `warg://host[:port]/ns:name[@version]`: `wcomp publish` and `wcomp pull` against warg
//! registries, through the `warg-client` crate. Compiled only with the `warg` cargo
//! feature (warg 0.10 brings its own older wasm-tools set and HTTP stack, see
//! docs/architecture.md); without it a `warg://` reference is refused with a hint.
//!
//! warg signs every package-log record: the publisher key is the user's wcomp key (P-256,
//! the one that signs OCI artifacts), so the trust policy's keys apply to warg releases too.
//! Policy scope of a warg package: `host[:port]/ns/name`.

pub const SCHEME: &str = "warg://";

/// Whether `reference` names a warg registry.
pub fn is_warg(reference: &str) -> bool {
    reference.starts_with(SCHEME)
}

#[cfg(feature = "warg")]
mod client;
#[cfg(feature = "warg")]
pub use client::*;

/// The answer to a `warg://` reference in a wcomp built without the feature (exit 2).
#[cfg(not(feature = "warg"))]
pub fn unsupported() -> anyhow::Error {
    super::HintedError::new(
        "this wcomp was built without warg support (`warg://` references)",
        "rebuild it with the `warg` feature: `cargo install --path cli --features warg`, or `cargo build -p wcomp --features warg` in a checkout",
    )
    .into()
}
