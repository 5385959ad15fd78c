//! A small OCI Distribution 1.1 client for wcomp.
//!
//! Map of the crate:
//! - [`reference`]: `host[:port]/repo[:tag][@digest]` references and wkg-style package
//!   names (`ns:name@1.2.0`), plus `.well-known/wasm-pkg/registry.json` discovery.
//! - [`auth`]: where credentials come from (env, `wcomp login`'s file, Docker's
//!   `config.json`) and the file `wcomp login` writes (mode 0600).
//! - [`manifest`]: the manifest and descriptor types wcomp writes and reads.
//! - [`client`]: the HTTP client: ping, Docker token flow and basic auth, blob uploads
//!   (monolithic, or chunked with resume after an interrupted chunk), retries with
//!   backoff on transient errors, pulls verified against their digest while streaming,
//!   tags, referrers (None when the registry has no referrers API).
//!
//! The library never prints; progress goes through the [`Reporter`] trait the CLI
//! implements with indicatif.

pub mod auth;
pub mod client;
pub mod manifest;
pub mod reference;

mod error;

pub use client::Client;
pub use error::Error;
pub use reference::Reference;

/// Progress of a transfer. Implementations must be cheap: `advance` is called per chunk.
pub trait Reporter: Send + Sync {
    fn start(&self, _what: &str, _total: u64) {}
    fn advance(&self, _bytes: u64) {}
    fn finish(&self) {}
}

/// A reporter that reports nothing.
pub struct Quiet;
impl Reporter for Quiet {}
