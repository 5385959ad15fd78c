//! The OCI vocabulary shared by the registry server and the client: media types, the
//! descriptor, image manifest and image index types, and the error codes of the
//! distribution spec.
//!
//! Manifests are always handled as the registry's bytes: these types are for writing new
//! manifests and for reading the fields wcomp acts on. Unknown fields are ignored when
//! reading and not kept, so a manifest is never re-serialised from them to be stored.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Media types.
pub mod media_type {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    pub const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// The config of a Wasm component artifact (the CNCF wasm OCI artifact layout).
    pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
    /// A Wasm component (or WIT package) layer.
    pub const WASM_LAYER: &str = "application/wasm";
    /// Prefix of the OCI image spec's non-distributable layer media types (deprecated in
    /// image spec 1.1, still valid): `...nondistributable.v1.tar`, `...+gzip`, `...+zstd`.
    pub const OCI_NONDISTRIBUTABLE_PREFIX: &str =
        "application/vnd.oci.image.layer.nondistributable.";
    /// Docker's equivalent ("foreign layers", e.g. Windows base layers).
    pub const DOCKER_FOREIGN_LAYER: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    /// Whether a layer of this media type is one clients are told not to upload: the image
    /// spec says implementations SHOULD NOT upload non-distributable layers (clients fetch
    /// them from the descriptor's `urls`), so a registry must accept a manifest without
    /// them.
    pub fn is_non_distributable(media_type: &str) -> bool {
        media_type.starts_with(OCI_NONDISTRIBUTABLE_PREFIX) || media_type == DOCKER_FOREIGN_LAYER
    }
}

/// The `code` values of the distribution spec's error envelope
/// (`{"errors":[{"code","message","detail"}]}`).
pub mod error_code {
    pub const BLOB_UNKNOWN: &str = "BLOB_UNKNOWN";
    pub const BLOB_UPLOAD_INVALID: &str = "BLOB_UPLOAD_INVALID";
    pub const BLOB_UPLOAD_UNKNOWN: &str = "BLOB_UPLOAD_UNKNOWN";
    pub const DIGEST_INVALID: &str = "DIGEST_INVALID";
    pub const MANIFEST_BLOB_UNKNOWN: &str = "MANIFEST_BLOB_UNKNOWN";
    pub const MANIFEST_INVALID: &str = "MANIFEST_INVALID";
    pub const MANIFEST_UNKNOWN: &str = "MANIFEST_UNKNOWN";
    pub const NAME_INVALID: &str = "NAME_INVALID";
    pub const NAME_UNKNOWN: &str = "NAME_UNKNOWN";
    pub const SIZE_INVALID: &str = "SIZE_INVALID";
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    pub const DENIED: &str = "DENIED";
    pub const UNSUPPORTED: &str = "UNSUPPORTED";
    pub const TOOMANYREQUESTS: &str = "TOOMANYREQUESTS";
    /// Not in the spec's table: what registries answer for a server-side failure.
    pub const UNKNOWN: &str = "UNKNOWN";
}

/// A descriptor: what a manifest says about a blob or another manifest. A descriptor read
/// without `mediaType` (which the spec requires) has an empty one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The sha256 descriptor of `bytes` as a blob of `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: Digest::sha256(bytes).to_string(),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// JSON that is not the manifest or index it should be.
#[derive(Debug, thiserror::Error)]
#[error("malformed {what}: {message}")]
pub struct MalformedJson {
    pub what: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> ImageManifest {
        ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.to_string()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serializes")
    }

    pub fn from_json(bytes: &[u8]) -> Result<ImageManifest, MalformedJson> {
        serde_json::from_slice(bytes).map_err(|e| MalformedJson {
            what: "image manifest",
            message: e.to_string(),
        })
    }
}

/// An image index (the referrers API answers with one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageIndex {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_skip_empty_fields() {
        let m = ImageManifest::new(
            Descriptor::of(media_type::WASM_CONFIG, b"{}"),
            vec![Descriptor::of(media_type::WASM_LAYER, b"\0asm")],
        );
        let json = String::from_utf8(m.to_json()).unwrap();
        assert!(!json.contains("annotations") && !json.contains("subject"));
        let back = ImageManifest::from_json(json.as_bytes()).unwrap();
        assert_eq!(back.layers, m.layers);
        assert!(ImageManifest::from_json(b"{}").is_err());
    }

    #[test]
    fn non_distributable_media_types() {
        assert!(media_type::is_non_distributable(
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        ));
        assert!(media_type::is_non_distributable(
            media_type::DOCKER_FOREIGN_LAYER
        ));
        assert!(!media_type::is_non_distributable(media_type::WASM_LAYER));
    }
}
