use super::CliError;
use crate::ops::deps::{self, Options};
use crate::ops::{EnvironmentError, publish};
use crate::printer::{self, OK, WARN, paint};
use std::path::PathBuf;

/// WIT packages from registries: fetch a project's `[dependencies]`, publish its WIT.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp wit fetch               [dependencies] into wit/deps/, pinned in wcomp.lock
  wcomp wit fetch --locked      fail if wcomp.lock would change (CI)
  wcomp wit fetch --offline     only the local cache (pinned by wcomp.lock)
  wcomp wit fetch --type wasm   packages as encoded .wasm files (wkg's --type wasm)
  wcomp wit publish             wit/ as <ns>:<name>@<version> from its package line

Exit codes: 0 success, 1 a verification failed, the lock would change under --locked,
or a package is missing under --offline, 2 usage or environment error.")]
pub struct Opts {
    #[command(subcommand)]
    command: WitCommand,
}

#[derive(clap::Subcommand)]
enum WitCommand {
    /// Pull and verify `[dependencies]` into `wit/deps/`, pinned in `wcomp.lock`.
    Fetch {
        /// The project directory (with wcomp.toml).
        #[arg(long, default_value = ".")]
        path: PathBuf,
        /// Refuse to change wcomp.lock.
        #[arg(long)]
        locked: bool,
        /// Use only the local cache; never contact a registry.
        #[arg(long)]
        offline: bool,
        /// Use plain http for non-loopback registries.
        #[arg(long)]
        insecure: bool,
        /// How packages are written into wit/deps/ (wkg's layouts): `wit` prints each
        /// package and its dependencies as `<ns>-<name>-<version>/package.wit`, `wasm`
        /// writes the encoded package as `<ns>-<name>-<version>.wasm`.
        #[arg(long = "type", value_enum, default_value_t = deps::Layout::Wit)]
        layout: deps::Layout,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Publish the project's WIT package (signed, like `wcomp publish`).
    Publish {
        /// The WIT directory.
        #[arg(long, default_value = "wit")]
        wit: PathBuf,
        /// Signing key: a name or a path to an encrypted PEM.
        #[arg(long, conflicts_with = "no_sign")]
        key: Option<String>,
        /// Publish without a signature or attestation.
        #[arg(long)]
        no_sign: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        match self.command {
            WitCommand::Fetch {
                path,
                locked,
                offline,
                insecure,
                layout,
                json,
            } => {
                let out = deps::fetch(&Options {
                    project: path,
                    layout,
                    locked,
                    offline,
                    insecure,
                })
                .map_err(super::op_error)?;
                if json {
                    printer::json(&out)?;
                    return Ok(0);
                }
                let mut s = String::new();
                for p in &out.packages {
                    s.push_str(&format!(
                        "{} {}@{} -> {} (from {}, layer {}{})\n",
                        paint(OK, "fetched"),
                        p.locked.name,
                        p.locked.version,
                        p.path,
                        p.from,
                        p.locked.layer,
                        p.locked
                            .signer
                            .as_ref()
                            .map(|k| format!(", signed by {k}"))
                            .unwrap_or_default()
                    ));
                }
                if out.packages.is_empty() {
                    s.push_str("no [dependencies] in wcomp.toml\n");
                }
                if out.lock_changed {
                    s.push_str(&format!("{} {}\n", paint(WARN, "updated"), deps::LOCK_FILE));
                }
                printer::out(&s);
                Ok(0)
            }
            WitCommand::Publish {
                wit,
                key,
                no_sign,
                json,
            } => {
                let pkg = wcomp_wasm::wit::load(&wit).map_err(CliError::usage)?;
                let name = &pkg.resolve.packages[pkg.package].name;
                let Some(version) = &name.version else {
                    return Err(CliError::usage(EnvironmentError(format!(
                        "the WIT package `{}:{}` has no version; add one to its `package` line (e.g. `package {}:{}@0.1.0;`)",
                        name.namespace, name.name, name.namespace, name.name
                    ))));
                };
                let reference = format!("{}:{}@{version}", name.namespace, name.name);
                let out = publish::run(
                    publish::Options {
                        input: wit,
                        reference,
                        key,
                        no_sign,
                        annotations: Vec::new(),
                        insecure: false,
                    },
                    &printer::Bar::new(),
                    &printer::warn,
                )
                .map_err(super::op_error)?;
                if json {
                    printer::json(&out)?;
                } else {
                    printer::out(&format!(
                        "{} {} ({})\n  manifest {}\n",
                        paint(OK, "published"),
                        out.reference,
                        if out.signed { "signed" } else { "not signed" },
                        out.manifest_digest
                    ));
                }
                Ok(0)
            }
        }
    }
}
