use super::CliError;
use crate::ops::{EnvironmentError, registry, userconfig};
use crate::printer::{self, OK, paint};
use std::io::{IsTerminal as _, Read as _};
use wcomp_oci::auth::Credentials;
use wcomp_oci::client::{Client, Options};

/// Log in to a registry: check the credentials and store them for later commands.
///
/// Credentials go to `credentials.json` in wcomp's config directory (mode 0600), in
/// Docker's `auths` layout. wcomp also reads `~/.docker/config.json` and the
/// WCOMP_REGISTRY_USER / WCOMP_REGISTRY_PASSWORD environment variables. Secrets are never
/// printed.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  echo \"$TOKEN\" | wcomp login registry.example.com -u ci --password-stdin
  wcomp login localhost:5000 -u admin          prompts for the password on a terminal

Exit codes: 0 logged in, 1 the registry refused the credentials, 2 usage or environment
error (no password given and no terminal, registry unreachable).")]
pub struct Opts {
    /// The registry host (`host[:port]`).
    registry: String,
    /// User name.
    #[arg(short, long)]
    username: String,
    /// Read the password (or token) from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Use plain http for this registry (loopback hosts always do).
    #[arg(long)]
    insecure: bool,
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let password = if self.password_stdin {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(anyhow::Error::from)?;
            s.trim_end_matches(['\r', '\n']).to_string()
        } else if std::io::stdin().is_terminal() {
            crate::ops::userconfig::read_hidden(&format!(
                "password for {}@{}",
                self.username, self.registry
            ))
            .map_err(CliError::usage)?
        } else {
            return Err(CliError::usage(EnvironmentError(
                "no password: pass `--password-stdin` and pipe it in".into(),
            )));
        };
        if password.is_empty() {
            return Err(CliError::usage(EnvironmentError(
                "the password is empty".into(),
            )));
        }
        let creds = Credentials {
            username: self.username.clone(),
            password,
        };
        let client = Client::new(
            &self.registry,
            Some(creds.clone()),
            Options {
                insecure: self.insecure,
                ..Options::default()
            },
        );
        let rt = registry::runtime()?;
        rt.block_on(client.ping())
            .map_err(|e| super::op_error(e.into()))?;
        let dir = userconfig::config_dir()?;
        let path =
            wcomp_oci::auth::store(&self.registry, &creds, &dir).map_err(anyhow::Error::from)?;
        printer::out(&format!(
            "{} to {} as {} (stored in {})\n",
            paint(OK, "logged in"),
            self.registry,
            self.username,
            path.display()
        ));
        Ok(0)
    }
}
