//! The crate's error enum.

/// Every way a cryptographic operation can fail. Deliberately coarse: a caller learns that a
/// ciphertext is not valid, never why (no padding/tag oracle).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the ciphertext is not a keyraft ciphertext of a supported format")]
    Malformed,
    #[error("the ciphertext, its key or its encryption context do not match")]
    Authentication,
    #[error("wrapped key material is malformed or was wrapped under another root key")]
    Unwrap,
    #[error("secret must be {expected} bytes")]
    Length { expected: usize },
    /// A key spec or algorithm this build cannot do (for example Ed25519ph).
    #[error("{0}")]
    Unsupported(String),
    /// Key generation or parsing of a stored key failed inside the crypto library.
    #[error("asymmetric key operation failed")]
    Asymmetric,
    /// An RSA ciphertext that does not decrypt (no detail: no padding oracle).
    #[error("the ciphertext does not decrypt under this key")]
    Decrypt,
}
