use super::CliError;
use crate::ops::EnvironmentError;
use crate::ops::host::AllowedHost;
use crate::ops::run::{GuestFailure, Outcome, RunSpec, run};
use crate::ops::sql::DbSpec;
use crate::printer;
use std::path::PathBuf;

/// Run a component: call one export, or run a `wasi:cli/run` command.
///
/// wasmtime with WASI 0.2 and wasi:http underneath. Capabilities are explicit: the guest sees no
/// directory and no environment variable unless `--dir` or `--env` grants it. A component
/// that imports the `wcomp:sql` database interface (wit-packages/sql) gets the database
/// named by `--db`: a SQLite file (created if missing; data survives the run) or a
/// PostgreSQL server.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp run app.wasm                                   run a wasi:cli/run command
  wcomp run app.wasm -- --verbose input.txt            with arguments
  wcomp run greeter.wasm --invoke 'greet(\"World\")'     call an export; result in WAVE
  wcomp run pipeline.wasm --db sqlite:signups.db \\
      --invoke 'ingest([{email: \"a@example.com\", name: \"Ada\", age: 36, country: \"GB\"}])'
  wcomp run pipeline.wasm --db postgres://app@localhost/app --invoke 'query(none)'
  wcomp run app.wasm --dir ./data::/data --env HOME=/data --env LANG
  wcomp run fetcher.wasm --allow-outbound api.example.com --invoke 'fetch(\"/v1\")'

Arguments of --invoke are WAVE values (records `{a: 1}`, lists `[1, 2]`, options
`some(x)`/`none`, results `ok(x)`/`err(e)`, variants `name(payload)`). Prefix the
function with its interface when several exports share a name:
`--invoke 'example:pipeline/api@0.1.0#query(none)'` (or `api#query(none)`).

Exit codes: --invoke: 0 returned, 1 the component trapped; a command: its own exit
code; 2 usage or environment error (unreadable file, missing import, bad --db).")]
pub struct Opts {
    /// The component to run.
    component: PathBuf,

    /// Call this export with WAVE arguments instead of running `wasi:cli/run`.
    #[arg(long, value_name = "CALL")]
    invoke: Option<String>,

    /// Give the guest a directory: `HOST[::GUEST]` (guest path defaults to the host path).
    #[arg(long, value_name = "HOST[::GUEST]")]
    dir: Vec<String>,

    /// Give the guest an environment variable: `NAME=VALUE`, or `NAME` to pass this
    /// process's value.
    #[arg(long, value_name = "NAME[=VALUE]")]
    env: Vec<String>,

    /// The database behind `wcomp:sql`: `sqlite:PATH` or `postgres://user@host/db`.
    #[arg(long, value_name = "URL")]
    db: Option<DbSpec>,

    /// Let outgoing `wasi:http` requests go to this host (any port) or `HOST:PORT`;
    /// repeat for more. Requests to any other host are denied to the guest.
    #[arg(long, value_name = "HOST[:PORT]")]
    allow_outbound: Vec<AllowedHost>,

    /// Print the results as a JSON array of WAVE strings.
    #[arg(long)]
    json: bool,

    /// Arguments for the guest (after `--`).
    #[arg(last = true)]
    args: Vec<String>,
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let mut env = Vec::new();
        for e in &self.env {
            match e.split_once('=') {
                Some((k, v)) => env.push((k.to_string(), v.to_string())),
                None => match std::env::var(e) {
                    Ok(v) => env.push((e.clone(), v)),
                    Err(_) => {
                        return Err(CliError::usage(anyhow::anyhow!(
                            "`--env {e}`: `{e}` is not set here; give a value with `--env {e}=VALUE`"
                        )));
                    }
                },
            }
        }
        let dirs = self
            .dir
            .iter()
            .map(|d| match d.split_once("::") {
                Some((host, guest)) => (PathBuf::from(host), guest.to_string()),
                None => (PathBuf::from(d), d.clone()),
            })
            .collect();
        let spec = RunSpec {
            component: self.component.clone(),
            invoke: self.invoke.clone(),
            dirs,
            env,
            args: self.args.clone(),
            db: self.db.clone(),
            allow_outbound: self.allow_outbound.clone(),
        };
        match run(&spec) {
            Ok(Outcome::Returned(values)) => {
                if self.json {
                    printer::json(&values)?;
                } else {
                    for v in values {
                        printer::out(&format!("{v}\n"));
                    }
                }
                Ok(wcomp_core::exit::SUCCESS)
            }
            Ok(Outcome::Exited(code)) => Ok(u8::try_from(code).unwrap_or(1)),
            Err(e) => {
                if e.downcast_ref::<GuestFailure>().is_some() {
                    Err(CliError::failure(e))
                } else if e.downcast_ref::<EnvironmentError>().is_some() {
                    Err(CliError::usage(e))
                } else if let Some(w) = e.downcast_ref::<wcomp_wasm::Error>() {
                    // A missing file is a usage error; a file that is not a runnable
                    // component is a failure, as in `wcomp validate`.
                    if matches!(
                        w,
                        wcomp_wasm::Error::NotFound(_) | wcomp_wasm::Error::Read { .. }
                    ) {
                        Err(CliError::usage(e))
                    } else {
                        Err(CliError::failure(e))
                    }
                } else {
                    Err(CliError::usage(e))
                }
            }
        }
    }
}
