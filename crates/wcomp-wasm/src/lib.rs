//! Component analysis for wcomp: everything that needs to understand a component or a WIT
//! world, and nothing that runs one (no wasmtime, no toolchains, no HTTP), so the registry
//! server can depend on it too.
//!
//! Map of the crate:
//! - [`input`]: read a file or stdin, tell component / core module / WAT / WIT apart, and
//!   turn every way it can be wrong (empty, not wasm, truncated, WAT syntax) into an
//!   [`Error`] with a hint.
//! - [`wit`]: load a WIT package (directory with `deps/`, single file, or encoded as wasm)
//!   and pick a world.
//! - [`component`]: validate a component with wasmparser and decode its world.
//! - [`inspect`]: the facts `wcomp inspect` reports (kind, size, digest, world, metadata).
//! - [`check`]: does a component conform to a world? Produces [`check::Report`], whose
//!   problems are phrased in WIT terms.
//! - [`problem`]: one reason something does not fit, shared by the check and composition.
//! - [`render`]: small WIT renderers for types and functions used in explanations.
//! - [`names`]: interface names, versions and the semver-compatibility rule.
//! - [`provenance`]: the record of parts a composed component carries.

pub mod check;
pub mod component;
mod error;
pub mod input;
pub mod inspect;
pub mod names;
pub mod problem;
pub mod provenance;
pub mod render;
pub mod wit;

pub use error::Error;
pub use problem::{Direction, Problem, ProblemKind};

/// Re-exported so users of this crate name the same `Resolve` and ids.
pub use wit_parser;
