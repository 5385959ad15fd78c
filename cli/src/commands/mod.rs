//! The command-line definition. One module per command, each a clap `Args` struct whose
//! doc comment is its `--help`, with examples and exit codes in `after_help`, and a `run`
//! that calls into the library crates.

mod build;
mod compose;
mod doctor;
mod inspect;
mod key;
mod login;
mod new;
mod parse;
mod publish;
mod pull;
mod run;
mod serve;
mod templates;
mod test;
mod validate;
mod verify;
mod wit;

use clap::{Parser, Subcommand};

/// Build, check, compose, sign and publish WebAssembly components.
#[derive(Parser)]
#[command(
    name = "wcomp",
    version,
    propagate_version = true,
    after_help = "Exit codes: 0 success, 1 the operation failed (e.g. a component does not \
                  conform), 2 usage or environment error.\n\
                  Colour follows the terminal; set NO_COLOR=1 to turn it off."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    New(new::Opts),
    Templates(templates::Opts),
    Build(build::Opts),
    Compose(compose::Opts),
    Doctor(doctor::Opts),
    Inspect(inspect::Opts),
    Validate(validate::Opts),
    Run(run::Opts),
    Serve(serve::Opts),
    Test(test::Opts),
    Key(key::Opts),
    Login(login::Opts),
    Publish(publish::Opts),
    Pull(pull::Opts),
    Verify(verify::Opts),
    Wit(wit::Opts),
}

/// A command's failure, with the exit code it maps to.
pub struct CliError {
    pub code: u8,
    pub error: anyhow::Error,
}

impl CliError {
    /// The operation ran and said no (exit 1).
    pub fn failure(error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            code: wcomp_core::exit::FAILURE,
            error: error.into(),
        }
    }

    /// The operation could not run (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            code: wcomp_core::exit::USAGE,
            error: error.into(),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        CliError::usage(error)
    }
}

/// An error wcomp knows how to report: the exit code it maps to and, when there is one, a
/// suggested fix (printed as `hint:`). The library crates' errors know both; this is the
/// one place that maps them, and the CLI's own errors, to exit codes.
pub trait Reported {
    /// [`wcomp_core::exit::FAILURE`] when the operation ran and said no (the thing checked
    /// is wrong, the registry refused), [`wcomp_core::exit::USAGE`] when it could not run.
    fn exit_code(&self) -> u8;
    fn hint(&self) -> Option<String> {
        None
    }
}

use crate::ops::{EnvironmentError, HintedError, deps::LockError, publish::BadInput};
use wcomp_core::exit::{FAILURE, USAGE};

/// The library errors know their exit code and hint.
macro_rules! library_errors {
    ($($t:ty),*) => {$(
        impl Reported for $t {
            fn exit_code(&self) -> u8 {
                <$t>::exit_code(self)
            }
            fn hint(&self) -> Option<String> {
                <$t>::hint(self)
            }
        }
    )*};
}
library_errors!(wcomp_wasm::Error, wcomp_compose::Error, wcomp_oci::Error);

/// The CLI's own errors that fail an operation that ran (exit 1).
macro_rules! failures {
    ($($t:ty),*) => {$(
        impl Reported for $t {
            fn exit_code(&self) -> u8 {
                FAILURE
            }
        }
    )*};
}
failures!(crate::ops::verify::Failure, BadInput, LockError);
#[cfg(feature = "warg")]
failures!(crate::ops::warg::Refused);

impl Reported for EnvironmentError {
    fn exit_code(&self) -> u8 {
        USAGE
    }
}

impl Reported for HintedError {
    fn exit_code(&self) -> u8 {
        USAGE
    }
    fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
    }
}

/// `e` as one of the errors wcomp knows, if it is one.
fn as_reported<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a dyn Reported> {
    macro_rules! first_of {
        ($($t:ty),*) => {$(
            if let Some(r) = e.downcast_ref::<$t>() {
                return Some(r);
            }
        )*};
    }
    first_of!(
        wcomp_wasm::Error,
        wcomp_compose::Error,
        wcomp_oci::Error,
        crate::ops::verify::Failure,
        BadInput,
        LockError,
        EnvironmentError,
        HintedError
    );
    #[cfg(feature = "warg")]
    first_of!(crate::ops::warg::Refused);
    None
}

/// The exit code of the first error in `e`'s chain that knows its own, or `default`.
pub fn exit_code_of(e: &anyhow::Error, default: u8) -> u8 {
    e.chain()
        .find_map(as_reported)
        .map_or(default, |r| r.exit_code())
}

/// The hint of the first error in `e`'s chain that has one.
pub fn hint_of(e: &anyhow::Error) -> Option<String> {
    e.chain().filter_map(as_reported).find_map(|r| r.hint())
}

/// A library error about the thing being checked, with the exit code it maps to.
pub fn subject_error(e: wcomp_wasm::Error) -> CliError {
    CliError {
        code: e.exit_code(),
        error: e.into(),
    }
}

/// An error from the publishing commands: the thing checked is wrong or the registry said
/// no (1), or the command could not run (2, also for errors that do not say).
pub fn op_error(e: anyhow::Error) -> CliError {
    CliError {
        code: exit_code_of(&e, USAGE),
        error: e,
    }
}

/// Like [`op_error`]; with `--json`, a failed check is also printed on stdout as
/// `{"schema":1,"verified":false,"check":"<name>","message":"..."}`.
pub fn op_error_json(e: anyhow::Error, json: bool) -> CliError {
    if json && let Some(f) = e.downcast_ref::<crate::ops::verify::Failure>() {
        let _ = crate::printer::json(&serde_json::json!({
            "schema": 1,
            "verified": false,
            "check": f.check(),
            "message": f.to_string(),
        }));
    }
    op_error(e)
}

impl Cli {
    pub fn run(self) -> Result<u8, CliError> {
        match self.command {
            Command::New(opts) => opts.run(),
            Command::Templates(opts) => opts.run(),
            Command::Build(opts) => opts.run(),
            Command::Compose(opts) => opts.run(),
            Command::Doctor(opts) => opts.run(),
            Command::Inspect(opts) => opts.run(),
            Command::Validate(opts) => opts.run(),
            Command::Run(opts) => opts.run(),
            Command::Serve(opts) => opts.run(),
            Command::Test(opts) => opts.run(),
            Command::Key(opts) => opts.run(),
            Command::Login(opts) => opts.run(),
            Command::Publish(opts) => opts.run(),
            Command::Pull(opts) => opts.run(),
            Command::Verify(opts) => opts.run(),
            Command::Wit(opts) => opts.run(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
