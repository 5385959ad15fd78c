//! Shared vocabulary of wcomp, with no I/O.
//!
//! - [`digest`]: content digests (`sha256:<hex>`) as used by OCI registries and by
//!   wcomp's own reports.
//! - [`exit`]: the process exit codes every wcomp binary uses.

pub mod digest;
pub mod exit;

pub use digest::Digest;
