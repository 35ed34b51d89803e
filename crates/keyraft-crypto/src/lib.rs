//! keyraft-crypto: secret types, wrapping under the region root key, and the frozen ciphertext
//! format. Pure: randomness comes from the caller (`rand_core::CryptoRngCore`), no I/O.
//!
//! - [`secret`]: `KeyMaterial`, `RootKey` (private bytes, zeroize on drop, no `Debug`/`Clone`).
//! - [`wrap`]: backing-key material wrapped under the root key (AES-256-GCM), format v1.
//! - [`asymmetric`]: RSA/ECDSA/Ed25519 key pairs on aws-lc-rs: Sign, Verify, RSA-OAEP.
//! - [`ciphertext`]: the ciphertext blob (format v1) and symmetric Encrypt/Decrypt.
//! - [`error`]: the crate's error enum.

pub mod asymmetric;
pub mod ciphertext;
pub mod error;
pub mod secret;
pub mod wrap;

pub use ciphertext::{decrypt, encrypt, CiphertextBlob};
pub use error::CryptoError;
pub use secret::{KeyMaterial, Plaintext, RootKey};
