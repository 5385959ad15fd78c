//! Composition for wcomp: several components become one.
//!
//! - [`part`]: a component taking part, with its imports and exports.
//! - [`plan`]: automatic wiring (any part may feed any other), `--wire` overrides, near
//!   misses, cycles, the unification of semver-compatible imports, and the explanation in
//!   WIT terms of a wire whose types do not match.
//! - [`encode`]: turns a plan into a component with wac-graph, which type-checks every wire
//!   before anything is encoded, and records what it was made of
//!   ([`wcomp_wasm::provenance`]).
//! - [`wac`]: composition from a WAC file, and writing a plan as WAC.

pub mod atomic;
pub mod encode;
pub mod part;
pub mod plan;
pub mod standin;
#[cfg(test)]
mod test_support;
pub mod wac;

pub use part::Part;
pub use plan::{ManualWire, Options, Plan, plan};

pub use wcomp_wasm::{Problem, ProblemKind};

/// Why a composition was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Wasm(#[from] wcomp_wasm::Error),
    #[error(
        "`{0}` is not a valid part name: use lowercase words joined by `-` (e.g. `db-adapter`)"
    )]
    BadPartName(String),
    #[error("two parts are named `{0}`")]
    DuplicatePart(String),
    /// A `--wire` that names something that does not exist (a usage error).
    #[error("{0}")]
    BadWire(String),
    /// The parts cannot be composed as asked; each problem says why.
    #[error("{}", summary(.0))]
    Rejected(Vec<Problem>),
    /// A WAC file that does not parse.
    #[error("{path}:{line}:{column}: {message}")]
    WacSyntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A WAC file names a package no `--dep` provides.
    #[error("{path}:{line}:{column}: package `{name}` is not provided")]
    MissingDep {
        path: String,
        line: usize,
        column: usize,
        name: String,
    },
    /// A WAC file that parses but does not make a composition.
    #[error("{path}:{line}:{column}: {message}")]
    WacResolve {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A part named by registry reference could not be pulled or did not verify under
    /// the trust policy.
    #[error("part `{name}` ({reference}): {message}")]
    Fetch {
        name: String,
        reference: String,
        message: String,
    },
    /// The graph did not encode (wac-graph refused it after our checks passed).
    #[error("failed to encode the composition: {0}")]
    Encode(String),
    /// A part composed through its stand-in changed before its bytes were copied in.
    #[error("part `{part}` ({path}) changed while it was being composed")]
    Changed { part: String, path: String },
    /// The output could not be written (an environment error).
    #[error("writing the output: {0}")]
    Write(#[source] std::io::Error),
}

impl Error {
    /// The exit code the error maps to: how wcomp was invoked or the environment
    /// ([`wcomp_core::exit::USAGE`]), or the components ([`wcomp_core::exit::FAILURE`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Wasm(e) => e.exit_code(),
            Error::BadPartName(_)
            | Error::DuplicatePart(_)
            | Error::BadWire(_)
            | Error::WacSyntax { .. }
            | Error::MissingDep { .. }
            | Error::Write(_) => wcomp_core::exit::USAGE,
            Error::Rejected(_)
            | Error::WacResolve { .. }
            | Error::Encode(_)
            | Error::Changed { .. }
            | Error::Fetch { .. } => wcomp_core::exit::FAILURE,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Wasm(e) => e.hint(),
            Error::MissingDep { name, .. } => Some(format!(
                "give the component for it with `--dep {name}=path/to/component.wasm`"
            )),
            Error::DuplicatePart(name) => Some(format!(
                "name parts explicitly: `--plug other-name=path/to/{name}.wasm`"
            )),
            Error::Rejected(problems) if problems.len() == 1 => problems[0].hint.clone(),
            Error::Changed { .. } => Some("compose again".to_string()),
            _ => None,
        }
    }
}

fn summary(problems: &[Problem]) -> String {
    match problems {
        [one] => one.message.clone(),
        many => format!("the composition has {} problems", many.len()),
    }
}
