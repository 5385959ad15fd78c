//! The protocol's vocabulary as the registry uses it. Digests, names, references, media
//! types and descriptors are the shared ones of `wcomp-core` (re-exported here); this module
//! adds manifest parsing: what a pushed manifest points at, checked before anything is
//! stored. The registry stores and serves the pushed bytes unchanged; parsing is only for
//! validation and for the fields it acts on.

use serde::Deserialize;

pub use wcomp_core::digest::{Algorithm, Digest, Hasher};
pub use wcomp_core::oci::Descriptor;
pub use wcomp_core::oci::media_type::{
    DOCKER_FOREIGN_LAYER, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
    WASM_CONFIG, WASM_LAYER, is_non_distributable,
};
pub use wcomp_core::reference::{Reference, looks_like_digest, valid_repository_name, valid_tag};

/// The fields of an image manifest or index that the registry acts on. Everything else
/// (custom fields, `data`, annotations) is kept only in the byte-exact stored manifest.
#[derive(Debug, Deserialize)]
struct RawManifest {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default)]
    annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A parsed manifest: what it points at and how it shows up in the referrers list.
#[derive(Debug, Clone)]
pub struct ParsedManifest {
    pub media_type: String,
    /// `artifactType`, or for an image manifest without one, its config media type (the
    /// spec's rule for referrers).
    pub artifact_type: Option<String>,
    pub config: Option<(Digest, String)>,
    /// Blobs that must be present in the repository (config and distributable layers).
    pub blobs: Vec<Digest>,
    /// Non-distributable layers: referenced, but need not have been pushed.
    pub foreign: Vec<Digest>,
    pub children: Vec<Digest>,
    pub subject: Option<Digest>,
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
    /// Layers as (digest, media type), for the component indexer.
    pub layers: Vec<(Digest, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("Content-Type `{content_type}` does not match the manifest's mediaType `{media_type}`")]
    MediaTypeMismatch {
        content_type: String,
        media_type: String,
    },
    #[error("unsupported manifest media type `{0}`")]
    Unsupported(String),
    #[error("invalid digest `{0}` in a descriptor")]
    BadDigest(String),
    #[error("{0}")]
    Invalid(&'static str),
}

pub fn parse_manifest(content_type: &str, body: &[u8]) -> Result<ParsedManifest, ManifestError> {
    let raw: RawManifest =
        serde_json::from_slice(body).map_err(|e| ManifestError::Json(e.to_string()))?;
    let content_type = content_type.split(';').next().unwrap_or("").trim();
    if let Some(mt) = &raw.media_type
        && mt != content_type
    {
        return Err(ManifestError::MediaTypeMismatch {
            content_type: content_type.to_string(),
            media_type: mt.clone(),
        });
    }
    if raw.schema_version != Some(2) {
        return Err(ManifestError::Invalid("schemaVersion must be 2"));
    }
    let digest = |d: &Descriptor| {
        Digest::parse(&d.digest).ok_or_else(|| ManifestError::BadDigest(d.digest.clone()))
    };
    let mut parsed = ParsedManifest {
        media_type: content_type.to_string(),
        artifact_type: raw.artifact_type.clone(),
        config: None,
        blobs: Vec::new(),
        foreign: Vec::new(),
        children: Vec::new(),
        subject: raw.subject.as_ref().map(digest).transpose()?,
        annotations: raw.annotations,
        layers: Vec::new(),
    };
    match content_type {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = raw
                .config
                .ok_or(ManifestError::Invalid("image manifest has no config"))?;
            let cd = digest(&config)?;
            let cmt = config.media_type.clone();
            if parsed.artifact_type.is_none() {
                parsed.artifact_type = Some(cmt.clone());
            }
            parsed.blobs.push(cd.clone());
            parsed.config = Some((cd, cmt));
            for l in raw
                .layers
                .ok_or(ManifestError::Invalid("image manifest has no layers"))?
            {
                let d = digest(&l)?;
                let mt = l.media_type;
                if is_non_distributable(&mt) {
                    parsed.foreign.push(d.clone());
                } else {
                    parsed.blobs.push(d.clone());
                }
                parsed.layers.push((d, mt));
            }
        }
        OCI_INDEX | DOCKER_MANIFEST_LIST => {
            for m in raw
                .manifests
                .ok_or(ManifestError::Invalid("index has no manifests"))?
            {
                parsed.children.push(digest(&m)?);
            }
        }
        other => return Err(ManifestError::Unsupported(other.to_string())),
    }
    parsed.blobs.sort();
    parsed.blobs.dedup();
    // A digest also used as a distributable blob must be present after all.
    parsed.foreign.sort();
    parsed.foreign.dedup();
    parsed
        .foreign
        .retain(|d| parsed.blobs.binary_search(d).is_err());
    parsed.children.sort();
    parsed.children.dedup();
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_distributable_layers_need_not_be_present() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let body = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d('a'), "size": 2},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "digest": d('b'), "size": 9,
                 "urls": ["https://example.com/b"]},
                {"mediaType": DOCKER_FOREIGN_LAYER, "digest": d('c'), "size": 9},
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d('e'), "size": 9},
                // The same digest as a normal layer too: then it must be present.
                {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar", "digest": d('e'), "size": 9}
            ]
        });
        let p = parse_manifest(OCI_MANIFEST, body.to_string().as_bytes()).unwrap();
        let strs = |v: &[Digest]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(strs(&p.blobs), vec![d('a'), d('e')]);
        assert_eq!(strs(&p.foreign), vec![d('b'), d('c')]);
        assert_eq!(p.layers.len(), 4);
    }

    #[test]
    fn content_type_must_match_media_type() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert!(matches!(
            parse_manifest(OCI_MANIFEST, body),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        assert!(parse_manifest(OCI_INDEX, body).is_ok());
    }
}
