//! Signatures and attestations attached to a manifest, stored where cosign stores them:
//! a manifest under the tag `sha256-<hex>.sig` / `.att`, which also carries `subject`
//! so registries with the OCI 1.1 referrers API list it as a referrer. One manifest
//! serves both discovery paths.

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::BTreeMap;
use wcomp_core::Digest;
use wcomp_oci::Client;
use wcomp_oci::manifest::{Descriptor, ImageManifest, OCI_IMAGE_CONFIG, OCI_MANIFEST};
use wcomp_oci::reference::Reference;
use wcomp_trust::{Signer, dsse, intoto, simple_signing};

pub use wcomp_trust::simple_signing::{ATTESTATION_ARTIFACT_TYPE, KEY_ID_ANNOTATION};
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

pub fn sig_tag(d: &Digest) -> String {
    format!("sha256-{}.sig", d.hex())
}

pub fn att_tag(d: &Digest) -> String {
    format!("sha256-{}.att", d.hex())
}

/// An image config in the shape cosign writes for its signature images (some tools
/// read `rootfs.diff_ids`).
fn cosign_config(layers: &[&Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {}
    }))
    .expect("JSON serializes")
}

/// A signature or attestation, signed and ready to push: one layer about a subject, and
/// the image config that goes with it.
pub struct Prepared {
    tag: String,
    artifact_type: &'static str,
    layer: Descriptor,
    bytes: Vec<u8>,
    config: Vec<u8>,
}

impl Prepared {
    fn new(tag: String, artifact_type: &'static str, layer: Descriptor, bytes: Vec<u8>) -> Self {
        let config = cosign_config(&[&layer]);
        Prepared {
            tag,
            artifact_type,
            layer,
            bytes,
            config,
        }
    }
}

/// Uploads the blobs of `prepared` (its layer and config). Blobs alone refer to nothing,
/// so they may go up before the subject is in place.
pub async fn push_blobs(client: &Client, reference: &Reference, prepared: &Prepared) -> Result<()> {
    let repo = &reference.repository;
    tokio::try_join!(
        client.push_blob(repo, &prepared.bytes, &wcomp_oci::Quiet),
        client.push_blob(repo, &prepared.config, &wcomp_oci::Quiet),
    )?;
    Ok(())
}

/// Pushes the manifest of `prepared` (its blobs already up, see [`push_blobs`]) about
/// `subject` under its tag, also carrying `subject` for registries with the referrers API;
/// returns its digest.
pub async fn push_manifest(
    client: &Client,
    reference: &Reference,
    subject: &Descriptor,
    prepared: &Prepared,
) -> Result<Digest> {
    let mut m = ImageManifest::new(
        Descriptor::of(OCI_IMAGE_CONFIG, &prepared.config),
        vec![prepared.layer.clone()],
    );
    m.artifact_type = Some(prepared.artifact_type.to_string());
    m.subject = Some(subject.clone());
    Ok(client
        .push_manifest(
            &reference.repository,
            &prepared.tag,
            &m.to_json(),
            OCI_MANIFEST,
        )
        .await?)
}

/// Signs `subject` (the artifact's manifest) cosign-style.
pub fn sign_signature(
    reference: &Reference,
    subject: &Descriptor,
    key: &dyn Signer,
) -> Result<Prepared> {
    let digest: Digest = subject.digest.parse()?;
    let payload = simple_signing::payload(&reference.scope(), &subject.digest, &Default::default());
    let sig = key.sign_message(&payload)?;
    let mut layer = Descriptor::of(simple_signing::PAYLOAD_MEDIA_TYPE, &payload);
    layer.annotations = BTreeMap::from([
        (
            simple_signing::SIGNATURE_ANNOTATION.to_string(),
            STANDARD.encode(sig),
        ),
        (KEY_ID_ANNOTATION.to_string(), key.public_key().key_id()),
    ]);
    Ok(Prepared::new(
        sig_tag(&digest),
        simple_signing::SIGNATURE_ARTIFACT_TYPE,
        layer,
        payload,
    ))
}

/// Wraps `statement` in a DSSE envelope signed by `key`, for where `cosign
/// verify-attestation` looks.
pub fn sign_attestation(
    subject: &Descriptor,
    key: &dyn Signer,
    statement: &intoto::Statement,
) -> Result<Prepared> {
    let digest: Digest = subject.digest.parse()?;
    let envelope = dsse::sign(key, dsse::INTOTO_PAYLOAD_TYPE, &statement.to_json())?.to_json();
    let mut layer = Descriptor::of(dsse::ENVELOPE_MEDIA_TYPE, &envelope);
    layer.annotations = BTreeMap::from([
        (
            PREDICATE_TYPE_ANNOTATION.to_string(),
            statement.predicate_type.clone(),
        ),
        (
            simple_signing::SIGNATURE_ANNOTATION.to_string(),
            String::new(),
        ),
        (KEY_ID_ANNOTATION.to_string(), key.public_key().key_id()),
    ]);
    Ok(Prepared::new(
        att_tag(&digest),
        ATTESTATION_ARTIFACT_TYPE,
        layer,
        envelope,
    ))
}

/// One layer of an attached manifest, with its bytes.
pub struct AttachedLayer {
    /// The attached manifest's digest.
    pub manifest: Digest,
    pub descriptor: Descriptor,
    pub bytes: Vec<u8>,
}

/// Everything of `kind` attached to `digest`: the referrers with that artifact type (when
/// the registry has the API) and the cosign tag. Returns the layers and whether the
/// registry answered the referrers API.
pub async fn find(
    client: &Client,
    repo: &str,
    digest: &Digest,
    artifact_type: &str,
    tag: &str,
    layer_media_type: &str,
) -> Result<(Vec<AttachedLayer>, bool)> {
    use futures_util::{StreamExt as _, TryStreamExt as _};
    // At most this many requests at once: the registry decides how many referrers there
    // are.
    const AT_ONCE: usize = 8;
    // Both discovery paths at once, then the manifests, then the layers.
    let (referrers, tagged) = tokio::try_join!(
        client.referrers(repo, digest, Some(artifact_type)),
        client.get_manifest(repo, tag),
    )?;
    let has_api = referrers.is_some();
    let mut fetched = Vec::new();
    if let Some(m) = tagged {
        fetched.push(m);
    }
    let mut manifests: Vec<Digest> = Vec::new();
    for d in referrers.unwrap_or_default() {
        if let Ok(d) = d.digest.parse::<Digest>()
            && !manifests.contains(&d)
            && !fetched.iter().any(|f| f.digest == d)
        {
            manifests.push(d);
        }
    }
    let more: Vec<_> = futures_util::stream::iter(manifests.iter())
        .map(|d| async move { client.get_manifest(repo, &d.to_string()).await })
        .buffered(AT_ONCE)
        .try_collect()
        .await?;
    fetched.extend(more.into_iter().flatten());
    let mut wanted = Vec::new();
    for m in fetched {
        let Ok(parsed) = ImageManifest::from_json(&m.bytes) else {
            continue;
        };
        for layer in parsed.layers {
            if layer.media_type != layer_media_type || layer.size > 16 * 1024 * 1024 {
                continue;
            }
            let Ok(ld) = layer.digest.parse::<Digest>() else {
                continue;
            };
            wanted.push((m.digest.clone(), layer, ld));
        }
    }
    let out: Vec<AttachedLayer> = futures_util::stream::iter(wanted)
        .map(|(manifest, descriptor, ld)| async move {
            let bytes = client.get_blob(repo, &ld).await?;
            Ok::<_, wcomp_oci::Error>(AttachedLayer {
                manifest,
                descriptor,
                bytes,
            })
        })
        .buffered(AT_ONCE)
        .try_collect()
        .await?;
    Ok((out, has_api))
}

pub fn intoto_of(envelope: &dsse::Envelope) -> bool {
    envelope.payload_type == dsse::INTOTO_PAYLOAD_TYPE
}

pub fn decode_sig(layer: &AttachedLayer) -> Option<Vec<u8>> {
    layer
        .descriptor
        .annotations
        .get(simple_signing::SIGNATURE_ANNOTATION)
        .and_then(|s| STANDARD.decode(s).ok())
}
