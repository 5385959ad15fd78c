//! DSSE envelopes (Dead Simple Signing Envelope), as cosign attestations use them: the
//! signature covers the PAE encoding of payload type and payload, never the JSON.

use crate::{Error, PublicKey, Signer};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// Media type of a layer holding an envelope.
pub const ENVELOPE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The payload type of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Base64 (standard alphabet) of the payload bytes.
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// cosign leaves this empty; wcomp writes the key id, which verifiers may ignore.
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the ASN.1 DER signature over the PAE.
    pub sig: String,
}

/// Pre-authentication encoding: `DSSEv1 <len> <type> <len> <body>` (lengths in decimal
/// bytes, single spaces).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Signs `payload` of `payload_type` with `key`.
pub fn sign(key: &dyn Signer, payload_type: &str, payload: &[u8]) -> Result<Envelope, Error> {
    let sig = key.sign_message(&pae(payload_type, payload))?;
    Ok(Envelope {
        payload: STANDARD.encode(payload),
        payload_type: payload_type.to_string(),
        signatures: vec![EnvelopeSignature {
            keyid: key.public_key().key_id(),
            sig: STANDARD.encode(sig),
        }],
    })
}

impl Envelope {
    pub fn from_json(bytes: &[u8]) -> Result<Envelope, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
            what: "DSSE envelope",
            message: e.to_string(),
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes")
    }

    pub fn payload_bytes(&self) -> Result<Vec<u8>, Error> {
        STANDARD
            .decode(&self.payload)
            .map_err(|e| Error::Malformed {
                what: "DSSE envelope payload",
                message: e.to_string(),
            })
    }

    /// The payload, if one of the signatures verifies with `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<Vec<u8>, Error> {
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        let mut last = Error::Malformed {
            what: "DSSE envelope",
            message: "it has no signatures".to_string(),
        };
        for s in &self.signatures {
            let Ok(sig) = STANDARD.decode(&s.sig) else {
                last = Error::MalformedSignature;
                continue;
            };
            match key.verify(&message, &sig) {
                Ok(()) => return Ok(payload),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPair;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // The DSSE protocol document's worked example.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn envelopes_verify_with_the_key_and_not_after_tampering() {
        let k = KeyPair::generate();
        let env = sign(&k, INTOTO_PAYLOAD_TYPE, b"{\"a\":1}").unwrap();
        let parsed = Envelope::from_json(&env.to_json()).unwrap();
        assert_eq!(parsed.verify(&k.public()).unwrap(), b"{\"a\":1}");
        assert!(parsed.verify(&KeyPair::generate().public()).is_err());
        let mut tampered = parsed.clone();
        tampered.payload = STANDARD.encode(b"{\"a\":2}");
        assert!(tampered.verify(&k.public()).is_err());
        let mut retyped = parsed;
        retyped.payload_type = "text/plain".into();
        assert!(retyped.verify(&k.public()).is_err());
    }
}
