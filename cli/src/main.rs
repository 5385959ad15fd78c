//! `wcomp`: the command line. Each command in `commands/` turns its arguments into a call
//! into the library crates; `printer` holds the shared output helpers.

mod commands;
#[allow(
    dead_code,
    reason = "`wcomp build` is not wired to the Go pipeline yet"
)]
mod ops;
mod printer;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match commands::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                wcomp_core::exit::USAGE
            } else {
                wcomp_core::exit::SUCCESS
            });
        }
    };
    match cli.run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            printer::report_error(&e.error);
            ExitCode::from(e.code)
        }
    }
}
