//! The protocol's vocabulary: digests, repository names, references, media types and the
//! parts of a manifest the registry must understand (references to blobs and manifests,
//! subject, artifact type). Everything a client sends is checked here before it is used in a
//! path or a query, which is what keeps traversal attempts (`..`, `%2e`, `/`) out of storage.

use serde::Deserialize;
use sha2::Digest as _;
use std::fmt;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
pub const WASM_LAYER: &str = "application/wasm";
/// Prefix of the OCI image spec's non-distributable layer media types (deprecated in image
/// spec 1.1, still valid): `...nondistributable.v1.tar`, `...+gzip`, `...+zstd`.
pub const OCI_NONDISTRIBUTABLE_PREFIX: &str = "application/vnd.oci.image.layer.nondistributable.";
/// Docker's equivalent ("foreign layers", e.g. Windows base layers).
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// Whether a layer of this media type is one clients are told not to upload: the image spec
/// says implementations SHOULD NOT upload non-distributable layers (clients fetch them from
/// the descriptor's `urls`), so a registry must accept a manifest without them.
pub fn is_non_distributable(media_type: &str) -> bool {
    media_type.starts_with(OCI_NONDISTRIBUTABLE_PREFIX) || media_type == DOCKER_FOREIGN_LAYER
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }
}

/// A validated `algorithm:hex` digest. Only sha256 and sha512 are accepted, with lowercase
/// hex of the exact length, so a digest is always safe to use as a storage path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    pub fn parse(s: &str) -> Option<Digest> {
        let (alg, hex) = s.split_once(':')?;
        let alg = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return None,
        };
        if hex.len() != alg.hex_len()
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        Some(Digest(s.to_string()))
    }

    /// Whether `s` looks like a digest of any algorithm (`alg:encoded`), as the spec's grammar
    /// says; such a reference is a digest we may not support, not a tag.
    pub fn looks_like_digest(s: &str) -> bool {
        s.contains(':')
    }

    pub fn algorithm(&self) -> Algorithm {
        if self.0.starts_with("sha512:") {
            Algorithm::Sha512
        } else {
            Algorithm::Sha256
        }
    }

    pub fn hex(&self) -> &str {
        &self.0[self.0.find(':').map_or(0, |i| i + 1)..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest(format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(bytes))
        ))
    }

    pub fn of(alg: Algorithm, bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(alg);
        h.update(bytes);
        h.finish()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An incremental hasher for either algorithm.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(alg: Algorithm) -> Self {
        match alg {
            Algorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Self::Sha512(sha2::Sha512::new()),
        }
    }
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }
    pub fn finish(self) -> Digest {
        match self {
            Self::Sha256(h) => Digest(format!("sha256:{}", hex::encode(h.finalize()))),
            Self::Sha512(h) => Digest(format!("sha512:{}", hex::encode(h.finalize()))),
        }
    }
}

/// Repository names per the spec:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255
/// bytes. Written by hand (no regex dependency); `.` and `..` components cannot pass because
/// a component must start and end with `[a-z0-9]`.
pub fn valid_repo_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    name.split('/').all(valid_path_component)
}

fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

/// Tags per the spec: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    /// `None` when the reference is neither a valid tag nor a supported digest.
    pub fn parse(s: &str) -> Option<Reference> {
        if Digest::looks_like_digest(s) {
            Digest::parse(s).map(Reference::Digest)
        } else if valid_tag(s) {
            Some(Reference::Tag(s.to_string()))
        } else {
            None
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(t) => t,
            Reference::Digest(d) => d.as_str(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    pub digest: String,
    pub size: i64,
    #[serde(rename = "artifactType", default)]
    pub artifact_type: Option<String>,
}

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
            let cmt = config.media_type.clone().unwrap_or_default();
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
                let mt = l.media_type.unwrap_or_default();
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
    fn repo_names_follow_the_spec_grammar() {
        for ok in [
            "a",
            "library/ubuntu",
            "a.b/c__d/e---f/g_h",
            "wasi/http-handler",
            "0x/9",
        ] {
            assert!(valid_repo_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "..", "a/../b", "a/./b", "a__-b", "a___b", "-a", "a-",
            "a.", "a%2e", "a b", "a\\b",
        ] {
            assert!(!valid_repo_name(bad), "{bad}");
        }
        assert!(!valid_repo_name(&"a".repeat(256)));
    }

    #[test]
    fn digests_require_known_algorithm_and_exact_hex() {
        assert!(Digest::parse(&format!("sha256:{}", "a".repeat(64))).is_some());
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).is_some());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_none());
        assert!(Digest::parse(&format!("sha256:{}", "a".repeat(63))).is_none());
        assert!(Digest::parse(&format!("md5:{}", "a".repeat(32))).is_none());
        assert!(Digest::parse("sha256:../../etc/passwd").is_none());
        assert_eq!(
            Digest::of(Algorithm::Sha256, b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn tags_follow_the_spec_grammar() {
        assert!(valid_tag("v1.0.0-rc_1"));
        assert!(valid_tag("_x"));
        assert!(!valid_tag(".hidden"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag(&"a".repeat(129)));
        assert!(!valid_tag("a/b"));
    }

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
