//! Backing-key material wrapped under the region's root key. Format v1 (frozen):
//!
//! ```text
//! 0x01 | root-key generation (u32 BE) | nonce (12) | AES-256-GCM(material) (32 + 16 tag)
//! AAD = "keyraft/wrap/v1" | key id (ASCII) | 0x00 | backing-key version (u32 BE)
//! ```
//!
//! The AAD binds the wrapped bytes to their key and version, so material cannot be moved to
//! another key or version in the store.
//!
//! Format v2 (frozen) wraps secrets of any length (asymmetric private keys as PKCS#8 DER):
//!
//! ```text
//! 0x02 | root-key generation (u32 BE) | nonce (12) | AES-256-GCM(secret) (n + 16 tag)
//! AAD = "keyraft/wrap/v2" | key id (ASCII) | 0x00 | backing-key version (u32 BE)
//! ```
//!
//! [`wrap`]/[`unwrap`] read and write only v1, [`wrap_bytes`]/[`unwrap_bytes`] only v2.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::secret::{KeyMaterial, RootKey};

const FORMAT: u8 = 1;
const HEADER: usize = 1 + 4 + 12;

const FORMAT_BYTES: u8 = 2;

fn aad(key_id: &str, version: u32) -> Vec<u8> {
    aad_with(b"keyraft/wrap/v1", key_id, version)
}

fn aad_with(label: &[u8], key_id: &str, version: u32) -> Vec<u8> {
    let mut a = Vec::with_capacity(16 + key_id.len() + 5);
    a.extend_from_slice(label);
    a.extend_from_slice(key_id.as_bytes());
    a.push(0);
    a.extend_from_slice(&version.to_be_bytes());
    a
}

/// Wraps `material` for storage.
pub fn wrap(
    root: &RootKey,
    key_id: &str,
    version: u32,
    material: &KeyMaterial,
    rng: &mut impl CryptoRngCore,
) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(root.bytes().into());
    let aad = aad(key_id, version);
    // Encryption with a 32-byte message cannot fail (only messages over 64 GiB can).
    let ct =
        cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: material.bytes(), aad: &aad }).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER + ct.len());
    out.push(FORMAT);
    out.extend_from_slice(&root.generation().to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Opens wrapped material. Fails on any tampering, on another key id or version, or on a wrapped
/// blob made under another root key.
pub fn unwrap(root: &RootKey, key_id: &str, version: u32, wrapped: &[u8]) -> Result<KeyMaterial, CryptoError> {
    if wrapped.len() != HEADER + 32 + 16 || wrapped[0] != FORMAT {
        return Err(CryptoError::Unwrap);
    }
    let generation = u32::from_be_bytes([wrapped[1], wrapped[2], wrapped[3], wrapped[4]]);
    if generation != root.generation() {
        return Err(CryptoError::Unwrap);
    }
    let cipher = Aes256Gcm::new(root.bytes().into());
    let aad = aad(key_id, version);
    let pt = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&wrapped[5..HEADER]), Payload { msg: &wrapped[HEADER..], aad: &aad })
            .map_err(|_| CryptoError::Unwrap)?,
    );
    KeyMaterial::from_slice(&pt)
}

/// Wraps a secret of any length (format v2).
pub fn wrap_bytes(root: &RootKey, key_id: &str, version: u32, secret: &[u8], rng: &mut impl CryptoRngCore) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(root.bytes().into());
    let aad = aad_with(b"keyraft/wrap/v2", key_id, version);
    // Encryption fails only for messages over 64 GiB; secrets here are a few KiB.
    let ct = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: &aad }).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER + ct.len());
    out.push(FORMAT_BYTES);
    out.extend_from_slice(&root.generation().to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Opens a secret wrapped by [`wrap_bytes`] (format v2); the result is zeroized on drop.
pub fn unwrap_bytes(
    root: &RootKey,
    key_id: &str,
    version: u32,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if wrapped.len() < HEADER + 16 || wrapped[0] != FORMAT_BYTES {
        return Err(CryptoError::Unwrap);
    }
    let generation = u32::from_be_bytes([wrapped[1], wrapped[2], wrapped[3], wrapped[4]]);
    if generation != root.generation() {
        return Err(CryptoError::Unwrap);
    }
    let cipher = Aes256Gcm::new(root.bytes().into());
    let aad = aad_with(b"keyraft/wrap/v2", key_id, version);
    cipher
        .decrypt(Nonce::from_slice(&wrapped[5..HEADER]), Payload { msg: &wrapped[HEADER..], aad: &aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Unwrap)
}

/// Re-wraps stored material (format v1 or v2) from one root key to another, for the same key id
/// and version, keeping its format. Used when material moves between regions: the plaintext is
/// only ever in zeroized memory.
pub fn open_any(
    root: &RootKey,
    key_id: &str,
    version: u32,
    wrapped: &[u8],
) -> Result<(u8, Zeroizing<Vec<u8>>), CryptoError> {
    match wrapped.first() {
        Some(&FORMAT) => {
            let m = unwrap(root, key_id, version, wrapped)?;
            Ok((FORMAT, Zeroizing::new(m.bytes().to_vec())))
        }
        Some(&FORMAT_BYTES) => Ok((FORMAT_BYTES, unwrap_bytes(root, key_id, version, wrapped)?)),
        _ => Err(CryptoError::Unwrap),
    }
}

/// Wraps a secret opened by [`open_any`] again, in the same format.
pub fn wrap_any(
    root: &RootKey,
    key_id: &str,
    version: u32,
    format: u8,
    secret: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    match format {
        FORMAT => Ok(wrap(root, key_id, version, &KeyMaterial::from_slice(secret)?, rng)),
        FORMAT_BYTES => Ok(wrap_bytes(root, key_id, version, secret, rng)),
        _ => Err(CryptoError::Unwrap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn round_trip_and_binding() {
        let root = RootKey::generate(&mut OsRng, 1);
        let m = KeyMaterial::generate(&mut OsRng);
        let w = wrap(&root, "k1", 1, &m, &mut OsRng);
        assert_eq!(unwrap(&root, "k1", 1, &w).unwrap().bytes(), m.bytes());
        assert!(w.windows(32).all(|win| win != m.bytes()), "plaintext material inside wrapped bytes");
        assert_eq!(unwrap(&root, "k2", 1, &w).err(), Some(CryptoError::Unwrap));
        assert_eq!(unwrap(&root, "k1", 2, &w).err(), Some(CryptoError::Unwrap));
        let other = RootKey::generate(&mut OsRng, 1);
        assert_eq!(unwrap(&other, "k1", 1, &w).err(), Some(CryptoError::Unwrap));
        let mut t = w.clone();
        t[20] ^= 1;
        assert_eq!(unwrap(&root, "k1", 1, &t).err(), Some(CryptoError::Unwrap));
        assert_eq!(unwrap(&root, "k1", 1, &w[..10]).err(), Some(CryptoError::Unwrap));
    }

    #[test]
    fn bytes_round_trip_and_binding() {
        let root = RootKey::generate(&mut OsRng, 1);
        let secret = vec![0x5au8; 1217];
        let w = wrap_bytes(&root, "k1", 1, &secret, &mut OsRng);
        assert_eq!(w[0], 2);
        assert_eq!(unwrap_bytes(&root, "k1", 1, &w).unwrap().as_slice(), secret.as_slice());
        assert!(w.windows(32).all(|win| win != &secret[..32]));
        assert!(unwrap_bytes(&root, "k2", 1, &w).is_err());
        assert!(unwrap_bytes(&root, "k1", 2, &w).is_err());
        // v1 and v2 never open each other.
        assert!(unwrap(&root, "k1", 1, &w).is_err());
        let m = KeyMaterial::generate(&mut OsRng);
        assert!(unwrap_bytes(&root, "k1", 1, &wrap(&root, "k1", 1, &m, &mut OsRng)).is_err());
        let mut t = w.clone();
        t[30] ^= 1;
        assert!(unwrap_bytes(&root, "k1", 1, &t).is_err());
    }
}
