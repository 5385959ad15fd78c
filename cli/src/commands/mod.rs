//! The command-line definition. One module per command, each a clap `Args` struct whose
//! doc comment is its `--help`, with examples and exit codes in `after_help`, and a `run`
//! that calls into the library crates.

mod build;
mod compose;
mod doctor;
mod inspect;
mod new;
mod run;
mod templates;
mod validate;

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

/// The exit code for a library error about the thing being checked: missing or unreadable
/// files are environment errors (2), bad contents are failures (1).
pub fn subject_error(e: wcomp_wasm::Error) -> CliError {
    match e {
        wcomp_wasm::Error::NotFound(_) | wcomp_wasm::Error::Read { .. } => CliError::usage(e),
        _ => CliError::failure(e),
    }
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
