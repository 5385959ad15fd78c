//! Shared vocabulary of wcomp, with no I/O.
//!
//! - [`digest`]: content digests (`sha256:<hex>`, `sha512:<hex>`) and a streaming hasher,
//!   as used by OCI registries and by wcomp's own reports.
//! - [`reference`]: repository names, tags and manifest references (the OCI distribution
//!   spec's grammar).
//! - [`oci`]: media types, descriptors, image manifests and indexes, the spec's error codes.
//! - [`exit`]: the process exit codes every wcomp binary uses.

pub mod digest;
pub mod exit;
pub mod oci;
pub mod reference;

pub use digest::Digest;
