use super::CliError;
use crate::ops::publish::{self, Options};
use crate::printer::{self, BOLD, OK, WARN, paint};
use std::path::PathBuf;

/// Publish a component or a WIT package to an OCI registry, signed and attested.
///
/// Pushes a CNCF Wasm OCI artifact (config `application/vnd.wasm.config.v0+json` with the
/// component's imports and exports, one `application/wasm` layer). Unless `--no-sign`,
/// signs the manifest with your default key (cosign-compatible: tag `sha256-<hex>.sig`
/// and an OCI 1.1 referrer) and attaches SLSA v1 provenance in a DSSE envelope (tag
/// `sha256-<hex>.att` and a referrer). A component carrying a `wcomp-composition` section
/// gets every part listed in the provenance's resolvedDependencies.
///
/// `warg://host[:port]/ns:name@version` publishes to a warg registry instead (wcomp built
/// with the `warg` feature): the package log is created if needed, and the release record
/// is signed with your wcomp key.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp publish app.wasm localhost:5000/acme/app:1.0.0     signed with the default key
  wcomp publish wit/ localhost:5000/acme/api:0.1.0         a WIT package (directory)
  wcomp publish app.wasm acme:app@1.0.0                    registry from config
  wcomp publish app.wasm reg.example.com/acme/app:1.0.0 --key release --json
  wcomp publish app.wasm localhost:5000/scratch/app:dev --no-sign
  wcomp publish app.wasm warg://127.0.0.1:8090/acme:app@1.0.0  a warg registry (`warg` feature)

The key's passphrase comes from WCOMP_KEY_PASSWORD or a prompt on a terminal.

Exit codes: 0 published, 1 the input is not publishable (a core module, not wasm) or
the registry refused it, 2 usage or environment error (no key, no passphrase, bad
reference, registry unreachable).")]
pub struct Opts {
    /// A component (`.wasm` or WAT), or a WIT package (`.wasm`-encoded, `.wit` file or directory).
    input: PathBuf,
    /// Where: `host[:port]/repository:tag`, a package version `ns:name@1.2.0`, or
    /// `warg://host[:port]/ns:name@1.2.0`.
    reference: String,
    /// Signing key: a name under the key directory or a path to an encrypted PEM.
    #[arg(long, value_name = "NAME|PATH", conflicts_with = "no_sign")]
    key: Option<String>,
    /// Publish without a signature or provenance attestation.
    #[arg(long)]
    no_sign: bool,
    /// Manifest annotation (repeatable), e.g. `org.opencontainers.image.source=https://...`.
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = parse_kv)]
    annotations: Vec<(String, String)>,
    /// Use plain http for a non-loopback registry.
    #[arg(long)]
    insecure: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        if crate::ops::warg::is_warg(&self.reference) {
            return self.run_warg();
        }
        let bar = printer::Bar::new();
        let json = self.json;
        let out = publish::run(self.options(), &bar, &printer::warn).map_err(super::op_error)?;
        if json {
            printer::json(&out)?;
            return Ok(0);
        }
        let mut s = format!(
            "{} {} ({}, {})\n  manifest {}\n",
            paint(OK, "published"),
            out.reference,
            out.kind,
            printer::human_size(out.size),
            out.manifest_digest
        );
        match (&out.key_id, &out.signature, &out.attestation) {
            (Some(k), Some(sig), Some(att)) => s.push_str(&format!(
                "  {} by key {k}\n  signature   {sig}\n  provenance  {att} ({})\n",
                paint(BOLD, "signed"),
                out.build_type
            )),
            _ => s.push_str(&format!("  {}\n", paint(WARN, "not signed"))),
        }
        if let Some(c) = &out.composition {
            s.push_str(&format!("  composition of {} part(s):\n", c.parts.len()));
            for p in &c.parts {
                s.push_str(&format!("    {}  {}  {}\n", p.name, p.digest, p.source));
            }
        }
        printer::out(&s);
        Ok(0)
    }
}

impl Opts {
    fn options(self) -> Options {
        Options {
            input: self.input,
            reference: self.reference,
            key: self.key,
            no_sign: self.no_sign,
            annotations: self.annotations,
            insecure: self.insecure,
        }
    }

    #[cfg(not(feature = "warg"))]
    fn run_warg(self) -> Result<u8, CliError> {
        Err(super::op_error(crate::ops::warg::unsupported()))
    }

    #[cfg(feature = "warg")]
    fn run_warg(self) -> Result<u8, CliError> {
        let json = self.json;
        let out = crate::ops::warg::publish(&self.options()).map_err(super::op_error)?;
        if json {
            printer::json(&out)?;
            return Ok(0);
        }
        printer::out(&format!(
            "{} {} ({}, {})\n  registry {}{}\n  content  {}\n  record   {}\n  {} by key {} (warg {})\n",
            paint(OK, "published"),
            out.reference,
            out.kind,
            printer::human_size(out.size),
            out.registry,
            if out.initialized {
                " (new package log)"
            } else {
                ""
            },
            out.content_digest,
            out.record_id,
            paint(BOLD, "signed"),
            out.key_id,
            out.warg_key_id
        ));
        Ok(0)
    }
}
