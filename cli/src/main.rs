//! `wcomp`: the command line. Each command in `commands/` turns its arguments into a call
//! into the library crates; `printer` holds the shared output helpers.

mod commands;
mod env;
mod ops;
mod printer;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match commands::Cli::parse_args() {
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
    // Components validated in full are remembered by digest in the cache (see
    // `wcomp_wasm::component::remember_validated_in`); without a cache dir, nothing is.
    if let Ok(cache) = ops::deps::cache_dir() {
        wcomp_wasm::component::remember_validated_in(cache.join("validated"));
    }
    match cli.run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            printer::report_error(&e.error);
            ExitCode::from(e.code)
        }
    }
}
