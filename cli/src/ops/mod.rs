//! The work behind the commands: one module per verb, called by `commands/`.

pub mod build;
pub mod build_go;
pub mod manifest;
pub mod scaffold;
pub mod templates;
pub mod toolchain;

/// The machine or the invocation lacks something the operation needs (a toolchain, a
/// Rust target, a `wcomp.toml`): exit code 2, as opposed to an operation that ran and
/// failed (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EnvironmentError(pub String);

pub mod attach;
pub mod deps;
pub mod provenance;
pub mod publish;
pub mod pull;
pub mod registry;
pub mod userconfig;
pub mod verify;
