use super::CliError;
use crate::ops::pull::{self, Options};
use crate::printer::{self, ERROR, OK, WARN, paint};
use std::path::PathBuf;

/// Pull a component or WIT package, verified before anything is written.
///
/// Checks the layer against its digest, then the signature and provenance attestation
/// against your trust policy (or exactly `--key`). Only when every check passes does the
/// file appear (written to a temporary file and renamed); a failure names the check
/// (no signature, unknown key, bad signature, digest mismatch, attestation subject
/// mismatch) and leaves no file.
///
/// `warg://host[:port]/ns:name[@version]` pulls from a warg registry (wcomp built with the
/// `warg` feature; no version: the newest release). warg-client checks the registry's
/// log and the content digest; wcomp then checks that the key that signed the release is
/// trusted for `host/ns/name` (or is exactly `--key`).
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp pull localhost:5000/acme/app:1.0.0       trust policy; writes app.wasm
  wcomp pull localhost:5000/acme/app:1.0.0 -o app.wasm --key acme.pub
  wcomp pull acme:app@1.0.0 --json
  wcomp pull localhost:5000/scratch/app:dev --insecure-skip-verify
  wcomp pull warg://127.0.0.1:8090/acme:app@1.0.0 -o app.wasm   (`warg` feature)
  wcomp pull warg://127.0.0.1:8090/acme:app                    newest release

Exit codes: 0 pulled and verified, 1 a verification failed or the artifact is not there
(nothing written), 2 usage or environment error.")]
pub struct Opts {
    /// `host[:port]/repository[:tag][@digest]`, `ns:name@1.2.0`, or
    /// `warg://host[:port]/ns:name[@1.2.0]`.
    reference: String,
    /// Output file (default: the layer's title, or `<repository name>.wasm`).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Verify with exactly this public key (PEM) instead of the trust policy.
    #[arg(long, value_name = "PUBLIC.PEM")]
    key: Option<PathBuf>,
    /// Do not check signatures or attestations (the layer digest is still checked).
    #[arg(long, conflicts_with = "key")]
    insecure_skip_verify: bool,
    /// Use plain http for a non-loopback registry.
    #[arg(long)]
    insecure: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        if crate::ops::warg::is_warg(&self.reference) {
            return self.run_warg();
        }
        if self.insecure_skip_verify {
            printer::err(&format!(
                "{}: --insecure-skip-verify: the signature and provenance of {} will NOT be checked; only the layer digest is\n",
                paint(ERROR, "WARNING"),
                self.reference
            ));
        }
        let bar = printer::Bar::new();
        let out = pull::run(
            Options {
                reference: self.reference,
                output: Some(self.output),
                key: self.key,
                skip_verify: self.insecure_skip_verify,
                insecure: self.insecure,
            },
            &bar,
        )
        .map_err(|e| super::op_error_json(e, self.json))?;
        if let Some(v) = &out.verification {
            for w in &v.warnings {
                printer::warn(w);
            }
        }
        if self.json {
            printer::json(&out)?;
            return Ok(0);
        }
        let mut s = format!(
            "{} {} -> {} ({})\n  manifest {}\n  layer    {} (digest verified)\n",
            paint(OK, "pulled"),
            out.reference,
            out.output.as_deref().unwrap_or("-"),
            printer::human_size(out.size),
            out.manifest_digest,
            out.layer_digest
        );
        match &out.verification {
            Some(v) => {
                for signer in &v.signers {
                    s.push_str(&format!(
                        "  signed by key {} (trusted: {})\n",
                        signer.key_id, signer.trusted_as
                    ));
                }
                for a in &v.attestations {
                    s.push_str(&format!("  attestation {} verified\n", a.predicate_type));
                }
            }
            None => s.push_str(&format!(
                "  {}\n",
                paint(
                    WARN,
                    "signature and attestation NOT checked (--insecure-skip-verify)"
                )
            )),
        }
        printer::out(&s);
        Ok(0)
    }
}

impl Opts {
    #[cfg(not(feature = "warg"))]
    fn run_warg(self) -> Result<u8, CliError> {
        Err(super::op_error(crate::ops::warg::unsupported()))
    }

    #[cfg(feature = "warg")]
    fn run_warg(self) -> Result<u8, CliError> {
        use crate::ops::warg;
        if self.insecure_skip_verify {
            printer::err(&format!(
                "{}: --insecure-skip-verify: whether a trusted key signed {} will NOT be checked; only warg's log and the content digest are\n",
                paint(ERROR, "WARNING"),
                self.reference
            ));
        }
        let out = warg::pull(&warg::PullOptions {
            reference: self.reference,
            output: self.output,
            key: self.key,
            skip_verify: self.insecure_skip_verify,
            insecure: self.insecure,
        })
        .map_err(|e| super::op_error_json(e, self.json))?;
        for w in &out.warnings {
            printer::warn(w);
        }
        if self.json {
            printer::json(&out)?;
            return Ok(0);
        }
        let mut s = format!(
            "{} {} -> {} ({})\n  registry {}\n  content  {} (digest verified, package log verified)\n",
            paint(OK, "pulled"),
            out.reference,
            out.output,
            printer::human_size(out.size),
            out.registry,
            out.content_digest
        );
        let who = format!(
            "key {} (warg {})",
            out.signer.key_id, out.signer.warg_key_id
        );
        match (&out.signer.trusted_as, out.skipped.is_empty()) {
            (Some(t), _) => s.push_str(&format!("  signed by {who} (trusted: {t})\n")),
            (None, true) => s.push_str(&format!("  signed by {who} (not a trusted key)\n")),
            (None, false) => s.push_str(&format!(
                "  signed by {who}; {}\n",
                paint(WARN, "trust policy NOT checked (--insecure-skip-verify)")
            )),
        }
        printer::out(&s);
        Ok(0)
    }
}
