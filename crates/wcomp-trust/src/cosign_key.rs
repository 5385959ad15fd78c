//! cosign's own private-key file: what `cosign generate-key-pair` writes and `cosign sign
//! --key` reads. A PEM block (`ENCRYPTED SIGSTORE PRIVATE KEY`; older cosign wrote
//! `ENCRYPTED COSIGN PRIVATE KEY`) around JSON:
//!
//! ```json
//! {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": "<base64>"},
//!  "cipher": {"name": "nacl/secretbox", "nonce": "<base64>"},
//!  "ciphertext": "<base64>"}
//! ```
//!
//! The key is scrypt(password, salt) (32 bytes); the ciphertext is NaCl's secretbox
//! (XSalsa20-Poly1305) of the PKCS#8 DER private key.

use crate::{Error, KeyPair};
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use pkcs8::rand_core::{OsRng, RngCore as _};
use serde::{Deserialize, Serialize};

/// The PEM label cosign 2 writes.
pub const COSIGN_PEM_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
const OLD_COSIGN_PEM_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// scrypt cost for keys written here: cosign's own (2^15, 8, 1).
const SCRYPT_LOG_N: u8 = 15;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Sealed {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "b64")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
}

mod b64 {
    use super::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

fn derive_key(password: &str, salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<[u8; 32], Error> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| malformed(format!("scrypt parameters: {e}")))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut key)
        .map_err(|e| malformed(format!("scrypt: {e}")))?;
    Ok(key)
}

fn malformed(message: String) -> Error {
    Error::Malformed {
        what: "cosign private key",
        message,
    }
}

impl KeyPair {
    /// The private key in cosign's format, encrypted with `password`, for `cosign sign
    /// --key` (cosign reads the password from `COSIGN_PASSWORD` or asks).
    pub fn to_cosign_pem(&self, password: &str) -> Result<String, Error> {
        let der = self
            .signing
            .to_pkcs8_der()
            .map_err(|e| Error::Encrypt(e.to_string()))?;
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut nonce);
        let key = derive_key(password, &salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)?;
        let ciphertext = XSalsa20Poly1305::new(&key.into())
            .encrypt(Nonce::from_slice(&nonce), der.as_bytes())
            .map_err(|e| Error::Encrypt(e.to_string()))?;
        let sealed = Sealed {
            kdf: Kdf {
                name: "scrypt".into(),
                params: ScryptParams {
                    n: 1 << SCRYPT_LOG_N,
                    r: SCRYPT_R,
                    p: SCRYPT_P,
                },
                salt: salt.to_vec(),
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: nonce.to_vec(),
            },
            ciphertext,
        };
        let json = serde_json::to_vec(&sealed).map_err(|e| Error::Encrypt(e.to_string()))?;
        pem_rfc7468::encode_string(COSIGN_PEM_LABEL, pem_rfc7468::LineEnding::LF, &json)
            .map_err(|e| Error::Encrypt(e.to_string()))
    }

    /// Reads a private key written by `cosign generate-key-pair` (or [`Self::to_cosign_pem`]).
    pub fn from_cosign_pem(pem: &str, password: &str) -> Result<KeyPair, Error> {
        // The block may sit among other text; the armour is pem-rfc7468's to read.
        let block = [COSIGN_PEM_LABEL, OLD_COSIGN_PEM_LABEL]
            .iter()
            .find_map(|label| {
                let start = pem.find(&format!("-----BEGIN {label}-----"))?;
                let end = format!("-----END {label}-----");
                let stop = start + pem[start..].find(&end)? + end.len();
                Some(&pem[start..stop])
            })
            .ok_or_else(|| {
                malformed(format!(
                    "no `-----BEGIN {COSIGN_PEM_LABEL}-----` block (is it a cosign key?)"
                ))
            })?;
        let (_, json) = pem_rfc7468::decode_vec(block.as_bytes())
            .map_err(|e| malformed(format!("PEM: {e}")))?;
        let sealed: Sealed =
            serde_json::from_slice(&json).map_err(|e| malformed(format!("JSON: {e}")))?;
        if sealed.kdf.name != "scrypt" || sealed.cipher.name != "nacl/secretbox" {
            return Err(malformed(format!(
                "unsupported kdf `{}` / cipher `{}` (expected scrypt / nacl/secretbox)",
                sealed.kdf.name, sealed.cipher.name
            )));
        }
        let n = sealed.kdf.params.n;
        if !n.is_power_of_two() || n < 2 {
            return Err(malformed(format!("scrypt N = {n} is not a power of two")));
        }
        if sealed.cipher.nonce.len() != 24 {
            return Err(malformed("the nonce is not 24 bytes".into()));
        }
        let key = derive_key(
            password,
            &sealed.kdf.salt,
            n.trailing_zeros() as u8,
            sealed.kdf.params.r,
            sealed.kdf.params.p,
        )?;
        let der = XSalsa20Poly1305::new(&key.into())
            .decrypt(
                Nonce::from_slice(&sealed.cipher.nonce),
                sealed.ciphertext.as_slice(),
            )
            .map_err(|_| Error::Decrypt)?;
        let signing = SigningKey::from_pkcs8_der(&der).map_err(|_| Error::Decrypt)?;
        Ok(KeyPair { signing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosign_key_round_trips_and_refuses_the_wrong_password() {
        let key = KeyPair::generate();
        let pem = key.to_cosign_pem("pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let back = KeyPair::from_cosign_pem(&pem, "pw").unwrap();
        assert_eq!(back.public().key_id(), key.public().key_id());
        assert!(matches!(
            KeyPair::from_cosign_pem(&pem, "other"),
            Err(Error::Decrypt)
        ));
        let old = pem.replace("SIGSTORE", "COSIGN");
        KeyPair::from_cosign_pem(&old, "pw").unwrap();
        assert!(matches!(
            KeyPair::from_cosign_pem("-----BEGIN PRIVATE KEY-----\n", "pw"),
            Err(Error::Malformed { .. })
        ));
    }
}
