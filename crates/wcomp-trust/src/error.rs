/// What can go wrong while handling keys, signatures and statements.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the private key could not be decrypted (wrong passphrase, or not an encrypted PKCS#8 P-256 key)"
    )]
    Decrypt,
    #[error("the private key could not be encrypted: {0}")]
    Encrypt(String),
    #[error("not a P-256 public key in PEM (SPKI) form: {0}")]
    PublicKey(String),
    #[error("the signature is not a valid ASN.1 DER ECDSA signature")]
    MalformedSignature,
    #[error("the signature does not verify with key {key_id}")]
    BadSignature { key_id: String },
    #[error("malformed {what}: {message}")]
    Malformed { what: &'static str, message: String },
    #[error("the signed payload names manifest {found}, not {expected}")]
    DigestMismatch { expected: String, found: String },
    #[error("the key agent could not sign: {0}")]
    Agent(String),
    #[error("invalid trust pattern `{0}`")]
    Pattern(String),
}
