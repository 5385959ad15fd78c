//! cosign's "simple signing" payload: the JSON document a cosign signature signs. It names
//! the signed manifest by digest; `cosign verify --key` checks the signature over these
//! exact bytes and that the digest is the image's.

use crate::Error;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Media type of the layer holding the payload in a signature manifest.
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer annotation holding the base64 ASN.1 DER signature over the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of every cosign signature payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
/// `artifactType` of attestation manifests (cosign's, for OCI 1.1 referrers).
pub const ATTESTATION_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.att.v1+json";
/// Layer annotation naming the signing key's id (wcomp's; cosign ignores it). Lets a
/// verifier tell "signed by a trusted key, but the signature is bad" from "signed by a
/// key we do not know", and lets the registry's web interface name the signer.
pub const KEY_ID_ANNOTATION: &str = "dev.wcomp.key-id";
/// `artifactType` cosign uses for signatures stored as OCI 1.1 referrers.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// The payload for `manifest_digest` (`sha256:<hex>`) at `docker_reference`
/// (`host/repo`, no tag), with `optional` annotations (cosign's `-a key=value`).
pub fn payload(
    docker_reference: &str,
    manifest_digest: &str,
    optional: &Map<String, Value>,
) -> Vec<u8> {
    let doc = json!({
        "critical": {
            "identity": { "docker-reference": docker_reference },
            "image": { "docker-manifest-digest": manifest_digest },
            "type": PAYLOAD_TYPE,
        },
        "optional": if optional.is_empty() { Value::Null } else { Value::Object(optional.clone()) },
    });
    serde_json::to_vec(&doc).expect("a JSON value always serializes")
}

/// What a payload claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub docker_reference: String,
    pub manifest_digest: String,
    pub optional: Map<String, Value>,
}

#[derive(Deserialize)]
struct Doc {
    critical: Critical,
    #[serde(default)]
    optional: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// Parses a payload; call only after its signature verified.
pub fn parse(payload: &[u8]) -> Result<Claims, Error> {
    let doc: Doc = serde_json::from_slice(payload).map_err(|e| Error::Malformed {
        what: "simple-signing payload",
        message: e.to_string(),
    })?;
    if doc.critical.kind != PAYLOAD_TYPE {
        return Err(Error::Malformed {
            what: "simple-signing payload",
            message: format!("`critical.type` is `{}`", doc.critical.kind),
        });
    }
    Ok(Claims {
        docker_reference: doc.critical.identity.docker_reference,
        manifest_digest: doc.critical.image.docker_manifest_digest,
        optional: doc.optional.unwrap_or_default(),
    })
}

/// Parses a payload and checks it names `expected_digest`.
pub fn check(payload: &[u8], expected_digest: &str) -> Result<Claims, Error> {
    let claims = parse(payload)?;
    if claims.manifest_digest != expected_digest {
        return Err(Error::DigestMismatch {
            expected: expected_digest.to_string(),
            found: claims.manifest_digest,
        });
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn payload_has_cosigns_exact_shape() {
        let p = payload("localhost:5000/ns/app", D, &Map::new());
        let v: Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(
            v,
            json!({"critical":{"identity":{"docker-reference":"localhost:5000/ns/app"},
                   "image":{"docker-manifest-digest":D},
                   "type":"cosign container image signature"},"optional":null})
        );
        let c = check(&p, D).unwrap();
        assert_eq!(c.docker_reference, "localhost:5000/ns/app");
    }

    #[test]
    fn check_refuses_another_digest_and_another_type() {
        let p = payload("r/a", D, &Map::new());
        let other = D.replace("01", "02");
        assert!(matches!(
            check(&p, &other),
            Err(Error::DigestMismatch { .. })
        ));
        let bad = String::from_utf8(p)
            .unwrap()
            .replace("cosign container", "x");
        assert!(parse(bad.as_bytes()).is_err());
    }
}
