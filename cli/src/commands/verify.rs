use super::CliError;
use crate::ops::pull::{self, Options};
use crate::printer::{self, BOLD, ERROR, OK, WARN, paint};
use std::path::PathBuf;

/// Verify a published artifact and show who signed it and what its provenance says.
///
/// Checks the layer digest, the signature and the attestations against your trust
/// policy (or exactly `--key`), then prints the signer's key id and why it is trusted,
/// when and how the artifact was made, and for a composition each part with its digest.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp verify localhost:5000/acme/app:1.0.0
  wcomp verify localhost:5000/acme/app:1.0.0 --key acme.pub --json

Exit codes: 0 verified, 1 a check failed (the message names it), 2 usage or environment
error.")]
pub struct Opts {
    /// `host[:port]/repository[:tag][@digest]`, or `ns:name@1.2.0`.
    reference: String,
    /// Verify with exactly this public key (PEM) instead of the trust policy.
    #[arg(long, value_name = "PUBLIC.PEM")]
    key: Option<PathBuf>,
    /// Use plain http for a non-loopback registry.
    #[arg(long)]
    insecure: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let out = pull::run(
            Options {
                reference: self.reference,
                output: None,
                key: self.key,
                skip_verify: false,
                insecure: self.insecure,
            },
            &wcomp_oci::Quiet,
        )
        .map_err(|e| super::op_error_json(e, self.json))?;
        let failed_parts = out.parts.iter().filter(|p| p.status == "failed").count();
        let code = if failed_parts > 0 { 1 } else { 0 };
        if self.json {
            printer::json(&out)?;
            return Ok(code);
        }
        let v = out.verification.as_ref().expect("verify always verifies");
        let mut s = format!(
            "{} {}\n  manifest {}\n  layer    {} ({}, digest verified)\n",
            paint(OK, "verified"),
            out.reference,
            out.manifest_digest,
            out.layer_digest,
            printer::human_size(out.size)
        );
        if let Some(c) = out.annotations.get("org.opencontainers.image.created") {
            s.push_str(&format!("  created  {c}\n"));
        }
        for signer in &v.signers {
            s.push_str(&format!(
                "  {} key {}\n    trusted as {}\n",
                paint(BOLD, "signed by"),
                signer.key_id,
                signer.trusted_as
            ));
        }
        if v.signers.is_empty() {
            s.push_str(&format!("  {}\n", paint(WARN, "not signed")));
        }
        for a in &v.attestations {
            s.push_str(&format!(
                "  {} {} (signed by {})\n",
                paint(BOLD, "provenance"),
                a.predicate_type,
                a.key_id
            ));
            if let Ok(p) =
                serde_json::from_value::<wcomp_trust::intoto::Provenance>(a.predicate.clone())
            {
                let b = &p.build_definition;
                s.push_str(&format!("    build type  {}\n", b.build_type));
                s.push_str(&format!("    builder     {}\n", p.run_details.builder.id));
                if !p.run_details.metadata.finished_on.is_empty() {
                    s.push_str(&format!(
                        "    finished    {}\n",
                        p.run_details.metadata.finished_on
                    ));
                }
                if let Some(rev) = b.external_parameters["sourceRevision"]["gitCommit"].as_str() {
                    s.push_str(&format!("    source      git {rev}\n"));
                }
                if !out.parts.is_empty() {
                    s.push_str(&format!("    parts ({}):\n", out.parts.len()));
                    for part in &out.parts {
                        let status = match (part.status, &part.signer, &part.detail) {
                            ("verified", Some(k), _) => {
                                paint(OK, format!("verified, signed by {k}"))
                            }
                            ("failed", _, Some(d)) => paint(ERROR, format!("FAILED: {d}")),
                            _ => "not checked (no registry reference)".to_string(),
                        };
                        s.push_str(&format!(
                            "      {}  {}\n        from {}  [{status}]\n",
                            part.name, part.digest, part.source
                        ));
                    }
                }
            }
        }
        for w in &v.warnings {
            s.push_str(&format!("  {}: {w}\n", paint(WARN, "warning")));
        }
        s.push_str(&format!(
            "  discovery: {}\n",
            if v.referrers_api {
                "OCI 1.1 referrers API and cosign tags"
            } else {
                "cosign tags (the registry has no referrers API)"
            }
        ));
        printer::out(&s);
        if failed_parts > 0 {
            printer::err(&format!(
                "{}: {failed_parts} part(s) of the composition failed verification\n",
                paint(ERROR, "error")
            ));
        }
        Ok(code)
    }
}
