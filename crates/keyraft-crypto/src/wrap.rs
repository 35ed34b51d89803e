//! Backing-key material wrapped under the region's root key. Format v1 (frozen):
//!
//! ```text
//! 0x01 | root-key generation (u32 BE) | nonce (12) | AES-256-GCM(material) (32 + 16 tag)
//! AAD = "keyraft/wrap/v1" | key id (ASCII) | 0x00 | backing-key version (u32 BE)
//! ```
//!
//! The AAD binds the wrapped bytes to their key and version, so material cannot be moved to
//! another key or version in the store.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::secret::{KeyMaterial, RootKey};

const FORMAT: u8 = 1;
const HEADER: usize = 1 + 4 + 12;

fn aad(key_id: &str, version: u32) -> Vec<u8> {
    let mut a = Vec::with_capacity(16 + key_id.len() + 5);
    a.extend_from_slice(b"keyraft/wrap/v1");
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
}
