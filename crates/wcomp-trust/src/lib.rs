//! Trust for wcomp: keys, signatures and provenance, with no I/O beyond what the caller
//! hands in, so both the CLI and the registry server can use it.
//!
//! Map of the crate:
//! - [`keys`]: ECDSA P-256 key pairs (cosign's default algorithm). Private keys are PKCS#8
//!   PEM encrypted with a passphrase; public keys are SPKI PEM (what `cosign verify --key`
//!   reads). A key's id is the sha256 of its SPKI DER.
//! - [`simple_signing`]: cosign's "simple signing" payload naming a manifest digest, and
//!   the media types / annotation of a cosign signature manifest.
//! - [`dsse`]: DSSE envelopes (PAE, sign, verify).
//! - [`intoto`]: in-toto statements (v1, and v0.1 when reading) with a SLSA provenance v1
//!   predicate.
//! - [`policy`]: which keys are trusted for which registry/namespace patterns, and what to
//!   do with unsigned artifacts.
//!
//! Built on the RustCrypto `p256` and `pkcs8` crates rather than the `sigstore` crate:
//! the formats are small and sigstore drags in an OCI client and Fulcio/Rekor support we
//! do not use (docs/architecture.md).

pub mod cosign_key;
pub mod dsse;
pub mod intoto;
pub mod keys;
pub mod policy;
pub mod simple_signing;

mod error;

pub use error::Error;
pub use keys::{KeyPair, PublicKey, Signer};
