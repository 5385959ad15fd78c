//! ECDSA P-256 keys.

use crate::Error;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use pkcs8::rand_core::{OsRng, RngCore};
use sha2::{Digest as _, Sha256};

/// PBKDF2 rounds for new private keys. Reading accepts whatever the file says (scrypt
/// too, as OpenSSL writes), so this can grow without breaking old keys.
const PBKDF2_ROUNDS: u32 = 200_000;

/// A private key with its public half.
pub struct KeyPair {
    pub(crate) signing: SigningKey,
}

impl KeyPair {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> KeyPair {
        KeyPair {
            signing: SigningKey::random(&mut OsRng),
        }
    }

    /// The private key as an `ENCRYPTED PRIVATE KEY` PEM (PKCS#8, PBES2 with
    /// PBKDF2-SHA256 and AES-256-CBC), readable by OpenSSL.
    pub fn to_encrypted_pem(&self, passphrase: &str) -> Result<String, Error> {
        let doc = self
            .signing
            .to_pkcs8_der()
            .map_err(|e| Error::Encrypt(e.to_string()))?;
        let info = pkcs8::PrivateKeyInfo::try_from(doc.as_bytes())
            .map_err(|e| Error::Encrypt(e.to_string()))?;
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut iv);
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ROUNDS, &salt, &iv)
                .map_err(|e| Error::Encrypt(e.to_string()))?;
        let encrypted = info
            .encrypt_with_params(params, passphrase.as_bytes())
            .map_err(|e| Error::Encrypt(e.to_string()))?;
        let pem = encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .map_err(|e| Error::Encrypt(e.to_string()))?;
        Ok(pem.to_string())
    }

    /// Reads an encrypted PKCS#8 PEM written by [`KeyPair::to_encrypted_pem`] or OpenSSL.
    pub fn from_encrypted_pem(pem: &str, passphrase: &str) -> Result<KeyPair, Error> {
        let signing = SigningKey::from_pkcs8_encrypted_pem(pem, passphrase.as_bytes())
            .map_err(|_| Error::Decrypt)?;
        Ok(KeyPair { signing })
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            verifying: *self.signing.verifying_key(),
        }
    }

    /// The P-256 key itself, for protocols that sign their own records with it (warg's
    /// package logs accept `ecdsa-p256` keys, so a wcomp key can be a warg publisher key).
    pub fn ecdsa_p256(&self) -> &SigningKey {
        &self.signing
    }

    /// ECDSA-SHA256 over `message`, as ASN.1 DER (the form cosign stores, base64-encoded).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.signing.sign(message);
        sig.to_der().as_bytes().to_vec()
    }
}

/// Something that signs with an ECDSA P-256 key: a key in this process ([`KeyPair`]) or
/// one another process holds for us (wcomp's key agent), which never hands it out.
pub trait Signer: Send + Sync {
    fn public_key(&self) -> PublicKey;
    /// ECDSA-SHA256 over `message`, as ASN.1 DER.
    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, Error>;
}

impl Signer for KeyPair {
    fn public_key(&self) -> PublicKey {
        self.public()
    }

    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.sign(message))
    }
}

/// A public key, as trusted or as found beside a private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    verifying: VerifyingKey,
}

impl PublicKey {
    /// Reads a `PUBLIC KEY` PEM (SPKI), as `cosign public-key` and `wcomp key export` write.
    pub fn from_pem(pem: &str) -> Result<PublicKey, Error> {
        let verifying = VerifyingKey::from_public_key_pem(pem.trim())
            .map_err(|e| Error::PublicKey(e.to_string()))?;
        Ok(PublicKey { verifying })
    }

    /// A P-256 public key found elsewhere (a warg package log names its publishers' keys).
    pub fn from_ecdsa_p256(verifying: VerifyingKey) -> PublicKey {
        PublicKey { verifying }
    }

    pub fn ecdsa_p256(&self) -> &VerifyingKey {
        &self.verifying
    }

    pub fn to_pem(&self) -> String {
        self.verifying
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 public key always encodes")
    }

    /// sha256 of the SPKI DER, in hex: stable across PEM line wrapping.
    pub fn key_id(&self) -> String {
        let der = self
            .verifying
            .to_public_key_der()
            .expect("a P-256 public key always encodes");
        hex::encode(Sha256::digest(der.as_bytes()))
    }

    /// Checks an ASN.1 DER ECDSA-SHA256 signature over `message`.
    pub fn verify(&self, message: &[u8], signature_der: &[u8]) -> Result<(), Error> {
        let sig = DerSignature::try_from(signature_der).map_err(|_| Error::MalformedSignature)?;
        self.verifying
            .verify(message, &sig)
            .map_err(|_| Error::BadSignature {
                key_id: self.key_id(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_pem_round_trips_and_refuses_a_wrong_passphrase() {
        let k = KeyPair::generate();
        let pem = k.to_encrypted_pem("s3cret").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let back = KeyPair::from_encrypted_pem(&pem, "s3cret").unwrap();
        assert_eq!(back.public(), k.public());
        assert!(matches!(
            KeyPair::from_encrypted_pem(&pem, "wrong"),
            Err(Error::Decrypt)
        ));
    }

    #[test]
    fn signatures_verify_only_with_the_signing_key_and_message() {
        let k = KeyPair::generate();
        let other = KeyPair::generate();
        let sig = k.sign(b"hello");
        k.public().verify(b"hello", &sig).unwrap();
        assert!(k.public().verify(b"hellO", &sig).is_err());
        assert!(other.public().verify(b"hello", &sig).is_err());
        assert!(matches!(
            k.public().verify(b"hello", b"junk"),
            Err(Error::MalformedSignature)
        ));
    }

    #[test]
    fn public_pem_round_trips_and_key_id_is_sha256_of_spki() {
        let k = KeyPair::generate();
        let pem = k.public().to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let p = PublicKey::from_pem(&pem).unwrap();
        assert_eq!(p.key_id(), k.public().key_id());
        assert_eq!(p.key_id().len(), 64);
        assert!(PublicKey::from_pem("nope").is_err());
    }
}
