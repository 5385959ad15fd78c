//! The work behind the commands: one module per verb, called by `commands/`.

pub mod build;
pub mod build_c;
pub mod build_go;
pub mod compose_ws;
pub mod host;
pub mod manifest;
pub mod new_world;
pub mod parts;
pub mod run;
pub mod scaffold;
pub mod serve;
pub mod sql;
pub mod stubs;
pub mod templates;
pub mod test;
pub mod toolchain;
pub mod wasi_wit;
pub mod watch;

pub use wcomp_compose::atomic;

/// The machine or the invocation lacks something the operation needs (a toolchain, a
/// Rust target, a `wcomp.toml`): exit code 2, as opposed to an operation that ran and
/// failed (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EnvironmentError(pub String);

/// An environment error with a suggested fix, printed as `hint:` (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HintedError {
    pub message: String,
    pub hint: String,
}

impl HintedError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> HintedError {
        HintedError {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

#[cfg(unix)]
pub mod agent;
pub mod attach;
pub mod deps;
pub mod provenance;
pub mod publish;
pub mod pull;
pub mod registry;
pub mod userconfig;
pub mod verify;
pub mod warg;
