//! Verification of a published artifact: its signatures against the trust policy (or
//! exactly one `--key`), its attestations, and the layer digest. Shared by `wcomp pull`
//! and `wcomp verify`.

use super::attach::{self, KEY_ID_ANNOTATION};
use anyhow::Result;
use serde::Serialize;
use wcomp_core::Digest;
use wcomp_oci::Client;
use wcomp_oci::reference::Reference;
use wcomp_trust::policy::{Policy, Unsigned};
use wcomp_trust::{PublicKey, dsse, intoto, simple_signing};

/// Which keys count.
pub enum Keys {
    /// Exactly this key (`--key`), as `cosign verify --key` does.
    Exactly { key: PublicKey, path: String },
    /// The trust policy's keys for the artifact's scope.
    Policy(Policy),
}

impl Keys {
    /// `--key <path>` when given, else the trust policy from the user's config.
    pub fn load(
        dir: &std::path::Path,
        cfg: &super::userconfig::UserConfig,
        key: Option<&std::path::Path>,
    ) -> Result<Keys> {
        Ok(match key {
            Some(p) => Keys::Exactly {
                key: super::userconfig::read_public(p)?,
                path: p.display().to_string(),
            },
            None => Keys::Policy(super::userconfig::policy(dir, cfg)?),
        })
    }
}

/// A failed check. The first word of each message names the check.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(
        "no signature: {reference} is not signed, and unsigned artifacts are refused for {scope}"
    )]
    NoSignature { reference: String, scope: String },
    #[error("unknown key: {reference} is signed by {signers}, but {expected}")]
    UnknownKey {
        reference: String,
        signers: String,
        expected: String,
    },
    #[error(
        "bad signature: the signature on {reference} claims key {key_id} but does not verify with it (the signature or the signed payload was altered)"
    )]
    BadSignature { reference: String, key_id: String },
    #[error("signed digest mismatch: a trusted key signed {found}, not this manifest ({expected})")]
    SignedDigestMismatch { expected: String, found: String },
    #[error(
        "digest mismatch: the {what} of {reference} has digest {actual}, but the manifest says {expected}"
    )]
    DigestMismatch {
        reference: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error(
        "attestation subject mismatch: an attestation signed by a trusted key ({key_id}) is about {found}, not {expected}"
    )]
    AttestationSubjectMismatch {
        key_id: String,
        expected: String,
        found: String,
    },
    #[error("not a wasm artifact: {0}")]
    NotWasm(String),
}

impl Failure {
    /// A stable name for `--json`.
    pub fn check(&self) -> &'static str {
        match self {
            Failure::NoSignature { .. } => "no-signature",
            Failure::UnknownKey { .. } => "unknown-key",
            Failure::BadSignature { .. } => "bad-signature",
            Failure::SignedDigestMismatch { .. } => "signed-digest-mismatch",
            Failure::DigestMismatch { .. } => "digest-mismatch",
            Failure::AttestationSubjectMismatch { .. } => "attestation-subject-mismatch",
            Failure::NotWasm(_) => "not-wasm",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Signer {
    pub key_id: String,
    /// Why the key is trusted: `--key <path>` or `<pattern> (<file>)`.
    pub trusted_as: String,
    pub signature_manifest: String,
    pub docker_reference: String,
}

#[derive(Debug, Serialize)]
pub struct Attestation {
    pub key_id: String,
    pub statement_type: String,
    pub predicate_type: String,
    pub attestation_manifest: String,
    pub predicate: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct Verdict {
    pub reference: String,
    pub manifest_digest: String,
    pub signers: Vec<Signer>,
    pub attestations: Vec<Attestation>,
    pub warnings: Vec<String>,
    /// Whether the registry answered the OCI 1.1 referrers API (else only tags were used).
    pub referrers_api: bool,
}

/// Checks signatures and attestations of the manifest `digest` at `reference`.
pub async fn check(
    client: &Client,
    reference: &Reference,
    digest: &Digest,
    keys: &Keys,
) -> Result<Verdict> {
    let scope = reference.scope();
    let shown = reference.to_string();
    let candidates: Vec<(PublicKey, String)> = match keys {
        Keys::Exactly { key, path } => vec![(key.clone(), format!("--key {path}"))],
        Keys::Policy(p) => p
            .keys_for(&scope)
            .into_iter()
            .map(|t| (t.key.clone(), format!("{} ({})", t.pattern, t.origin)))
            .collect(),
    };
    let mut verdict = Verdict {
        reference: shown.clone(),
        manifest_digest: digest.to_string(),
        signers: Vec::new(),
        attestations: Vec::new(),
        warnings: Vec::new(),
        referrers_api: false,
    };

    // Signatures and attestations are looked up together.
    let (sig_tag, att_tag) = (attach::sig_tag(digest), attach::att_tag(digest));
    let (sig_found, att_found) = tokio::join!(
        attach::find(
            client,
            &reference.repository,
            digest,
            simple_signing::SIGNATURE_ARTIFACT_TYPE,
            &sig_tag,
            simple_signing::PAYLOAD_MEDIA_TYPE,
        ),
        attach::find(
            client,
            &reference.repository,
            digest,
            attach::ATTESTATION_ARTIFACT_TYPE,
            &att_tag,
            dsse::ENVELOPE_MEDIA_TYPE,
        ),
    );
    // In a fixed order whatever finished first: signature problems before attestation ones.
    let (sigs, api) = sig_found?;
    let (atts, _) = att_found?;
    verdict.referrers_api = api;
    let mut mismatch = None;
    let mut bad = None;
    let mut unknown: Vec<String> = Vec::new();
    for layer in &sigs {
        let claimed = layer.descriptor.annotations.get(KEY_ID_ANNOTATION).cloned();
        let Some(sig) = attach::decode_sig(layer) else {
            unknown.push("a malformed signature".into());
            continue;
        };
        let found = candidates
            .iter()
            .find(|(k, _)| k.verify(&layer.bytes, &sig).is_ok());
        match found {
            Some((k, label)) => match simple_signing::check(&layer.bytes, &digest.to_string()) {
                Ok(claims) => verdict.signers.push(Signer {
                    key_id: k.key_id(),
                    trusted_as: label.clone(),
                    signature_manifest: layer.manifest.to_string(),
                    docker_reference: claims.docker_reference,
                }),
                Err(wcomp_trust::Error::DigestMismatch { found, .. }) => mismatch = Some(found),
                Err(e) => unknown.push(format!("a signature with an unreadable payload ({e})")),
            },
            None => match claimed {
                Some(id) if candidates.iter().any(|(k, _)| k.key_id() == id) => bad = Some(id),
                Some(id) => unknown.push(format!("key {id}")),
                None => unknown.push("a key that does not say its id".into()),
            },
        }
    }
    if verdict.signers.is_empty() {
        if let Some(found) = mismatch {
            return Err(Failure::SignedDigestMismatch {
                expected: digest.to_string(),
                found,
            }
            .into());
        }
        if let Some(key_id) = bad {
            return Err(Failure::BadSignature {
                reference: shown,
                key_id,
            }
            .into());
        }
        let unsigned = match keys {
            Keys::Exactly { .. } => Unsigned::Refuse,
            Keys::Policy(p) => p.unsigned_for(&scope),
        };
        if !unknown.is_empty() {
            unknown.dedup();
            let expected = match keys {
                Keys::Exactly { key, path } => {
                    format!("not by the key given with --key ({path}, {})", key.key_id())
                }
                Keys::Policy(_) if candidates.is_empty() => {
                    format!("no key is trusted for {scope} (`wcomp key trust`)")
                }
                Keys::Policy(_) => format!(
                    "none of the {} key(s) trusted for {scope} made the signature",
                    candidates.len()
                ),
            };
            let failure = Failure::UnknownKey {
                reference: shown.clone(),
                signers: unknown.join(", "),
                expected,
            };
            if candidates.is_empty() && unsigned != Unsigned::Refuse {
                verdict
                    .warnings
                    .push(format!("{failure}; the signature was NOT verified"));
            } else {
                return Err(failure.into());
            }
        } else {
            match unsigned {
                Unsigned::Refuse => {
                    return Err(Failure::NoSignature {
                        reference: shown,
                        scope,
                    }
                    .into());
                }
                Unsigned::Warn => verdict.warnings.push(format!(
                    "{shown} is not signed (allowed because no key is trusted for {scope})"
                )),
                Unsigned::Allow => {}
            }
        }
    }

    let mut ignored = 0;
    for layer in &atts {
        let Ok(envelope) = dsse::Envelope::from_json(&layer.bytes) else {
            ignored += 1;
            continue;
        };
        if !attach::intoto_of(&envelope) {
            ignored += 1;
            continue;
        }
        let Some((key, payload)) = candidates
            .iter()
            .find_map(|(k, _)| envelope.verify(k).ok().map(|p| (k, p)))
        else {
            ignored += 1;
            continue;
        };
        let statement = intoto::Statement::from_json(&payload)?;
        if !statement.names_digest(&digest.to_string()) {
            return Err(Failure::AttestationSubjectMismatch {
                key_id: key.key_id(),
                expected: digest.to_string(),
                found: statement.subject_digests().join(", "),
            }
            .into());
        }
        verdict.attestations.push(Attestation {
            key_id: key.key_id(),
            statement_type: statement.kind.clone(),
            predicate_type: statement.predicate_type.clone(),
            attestation_manifest: layer.manifest.to_string(),
            predicate: statement.predicate.clone(),
        });
    }
    if ignored > 0 {
        verdict.warnings.push(format!(
            "{ignored} attestation(s) not signed by a trusted key were ignored"
        ));
    }
    if !verdict.signers.is_empty() && verdict.attestations.is_empty() {
        verdict
            .warnings
            .push("no provenance attestation signed by a trusted key".into());
    }
    Ok(verdict)
}

/// A composition part as `wcomp verify` reports it.
#[derive(Debug, Serialize)]
pub struct PartStatus {
    pub name: String,
    pub source: String,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `verified`, `failed`, or `not-checked` (the part has no registry reference).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Checks each part of a composition that names a registry reference: the part's
/// manifest (at the recorded manifest digest when there is one) must carry one wasm
/// layer whose digest is the part's, signed and attested under the same keys.
pub async fn check_parts(
    verdict: &Verdict,
    keys: &Keys,
    make_client: &dyn Fn(&str) -> Client,
) -> Vec<PartStatus> {
    let mut out = Vec::new();
    let Some(att) = verdict.attestations.first() else {
        return out;
    };
    let Ok(p) = serde_json::from_value::<intoto::Provenance>(att.predicate.clone()) else {
        return out;
    };
    for dep in &p.build_definition.resolved_dependencies {
        let digest = dep
            .digest
            .get("sha256")
            .map(|h| format!("sha256:{h}"))
            .unwrap_or_default();
        let reference = dep
            .annotations
            .get("reference")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or_else(|| Reference::parse(&dep.uri).ok().map(|_| dep.uri.clone()));
        let mut status = PartStatus {
            name: dep.name.clone(),
            source: dep.uri.clone(),
            digest: digest.clone(),
            reference: reference.clone(),
            status: "not-checked",
            signer: None,
            detail: None,
        };
        if let Some(r) = &reference {
            let pinned = dep
                .annotations
                .get("manifestDigest")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            match check_part(r, pinned.as_deref(), &digest, keys, make_client).await {
                Ok(signer) => {
                    status.status = "verified";
                    status.signer = Some(signer);
                }
                Err(e) => {
                    status.status = "failed";
                    status.detail = Some(format!("{e:#}"));
                }
            }
        }
        out.push(status);
    }
    out
}

async fn check_part(
    reference: &str,
    manifest_digest: Option<&str>,
    part_digest: &str,
    keys: &Keys,
    make_client: &dyn Fn(&str) -> Client,
) -> Result<String> {
    let mut r = Reference::parse(reference)?;
    if let Some(d) = manifest_digest {
        r.digest = Some(d.parse()?);
    }
    let client = make_client(&r.registry);
    let m = client
        .get_manifest(&r.repository, &r.target())
        .await?
        .ok_or_else(|| wcomp_oci::Error::NotFound(r.to_string()))?;
    let parsed = wcomp_oci::manifest::ImageManifest::from_json(&m.bytes)?;
    let layer = parsed
        .layers
        .iter()
        .find(|l| l.media_type == wcomp_oci::manifest::WASM_LAYER)
        .ok_or_else(|| Failure::NotWasm(r.to_string()))?;
    if layer.digest != part_digest {
        return Err(Failure::DigestMismatch {
            reference: r.to_string(),
            what: "composition part".into(),
            expected: part_digest.to_string(),
            actual: layer.digest.clone(),
        }
        .into());
    }
    let v = check(&client, &r, &m.digest, keys).await?;
    Ok(v.signers.first().map_or_else(
        || "unsigned (allowed by policy)".to_string(),
        |s| s.key_id.clone(),
    ))
}
