//! keyraft-crypto: secret types, wrapping under the region root key, and the frozen ciphertext
//! format. Pure: randomness comes from the caller (`rand_core::CryptoRngCore`), no I/O.
//!
//! - [`secret`]: `KeyMaterial`, `RootKey` (private bytes, zeroize on drop, no `Debug`/`Clone`).
//! - [`wrap`]: backing-key material wrapped under the root key (AES-256-GCM), format v1.
//! - [`backup`]: the encrypted backup file of a region (format 1).
//! - [`agreement`]: ECDH (DeriveSharedSecret) on NIST P-256/P-384/P-521.
//! - [`asymmetric`]: RSA/ECDSA/Ed25519 key pairs on aws-lc-rs: Sign, Verify, RSA-OAEP.
//! - [`pq`]: ML-DSA and ML-KEM key pairs on aws-lc-rs: Sign, Verify, Encapsulate, Decapsulate.
//! - [`import`]: BYOK: wrapping key pairs, import tokens, unwrapping imported material.
//! - [`mac`]: HMAC keys (HMAC_224/256/384/512): generation, wrapping, GenerateMac/VerifyMac.
//! - [`ciphertext`]: the ciphertext blob (format v1) and symmetric Encrypt/Decrypt.
//! - [`error`]: the crate's error enum.

pub mod agreement;
pub mod asymmetric;
pub mod backup;
pub mod ciphertext;
mod ed25519ph;
pub mod error;
mod external_mu;
pub mod import;
pub mod mac;
pub mod pq;
pub mod secret;
pub mod transport;
pub mod wrap;

pub use ciphertext::{decrypt, encrypt, CiphertextBlob};
pub use error::CryptoError;
pub use secret::{KeyMaterial, Plaintext, RootKey};
