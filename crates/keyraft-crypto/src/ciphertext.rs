//! The ciphertext blob, format v1 (frozen; documented in ARCHITECTURE.md and pinned by the test
//! vectors in `tests/vectors/ciphertext-v1.json`):
//!
//! ```text
//! offset  size  field
//! 0       1     format version = 0x01
//! 1       1     L = length of the key id
//! 2       L     key id, ASCII (a UUID or mrk-<32 hex>)
//! 2+L     4     backing-key version, u32 big-endian
//! 6+L     12    AES-GCM nonce (random)
//! 18+L    n+16  AES-256-GCM ciphertext of the n-byte plaintext, then the 16-byte tag
//!
//! AAD = "keyraft/ciphertext/v1" | bytes 0..18+L of the blob | canonical encryption context
//! ```
//!
//! The blob names its key and backing-key version, so Decrypt needs no KeyId; the header and the
//! encryption context are authenticated, so changing either fails decryption.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::secret::{KeyMaterial, Plaintext};

pub const FORMAT_V1: u8 = 1;
const AAD_LABEL: &[u8] = b"keyraft/ciphertext/v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A parsed ciphertext blob; borrowing the bytes it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiphertextBlob<'a> {
    pub key_id: &'a str,
    pub version: u32,
    header: &'a [u8],
    nonce: &'a [u8],
    body: &'a [u8],
}

impl<'a> CiphertextBlob<'a> {
    /// Parses the header. Says nothing about authenticity: only [`decrypt`] checks that.
    pub fn parse(blob: &'a [u8]) -> Result<Self, CryptoError> {
        let (&format, rest) = blob.split_first().ok_or(CryptoError::Malformed)?;
        if format != FORMAT_V1 {
            return Err(CryptoError::Malformed);
        }
        let (&len, rest) = rest.split_first().ok_or(CryptoError::Malformed)?;
        let len = usize::from(len);
        if rest.len() < len + 4 + NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let key_id = std::str::from_utf8(&rest[..len]).map_err(|_| CryptoError::Malformed)?;
        let v = &rest[len..len + 4];
        let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        let header_len = 2 + len + 4 + NONCE_LEN;
        Ok(CiphertextBlob {
            key_id,
            version,
            header: &blob[..header_len],
            nonce: &blob[header_len - NONCE_LEN..header_len],
            body: &blob[header_len..],
        })
    }
}

fn aad(header: &[u8], context: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_LABEL.len() + header.len() + context.len());
    a.extend_from_slice(AAD_LABEL);
    a.extend_from_slice(header);
    a.extend_from_slice(context);
    a
}

/// Encrypts `plaintext` under one backing-key version. `context` is the canonical encryption
/// context (`EncryptionContext::canonical_bytes`).
pub fn encrypt(
    material: &KeyMaterial,
    key_id: &str,
    version: u32,
    context: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    encrypt_with_nonce(material, key_id, version, context, plaintext, nonce)
}

/// [`encrypt`] with a caller-chosen nonce: for the frozen test vectors only. A nonce must never
/// repeat under one key.
pub fn encrypt_with_nonce(
    material: &KeyMaterial,
    key_id: &str,
    version: u32,
    context: &[u8],
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, CryptoError> {
    let id_len = u8::try_from(key_id.len()).map_err(|_| CryptoError::Malformed)?;
    let mut out = Vec::with_capacity(2 + key_id.len() + 4 + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.push(FORMAT_V1);
    out.push(id_len);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&nonce);
    let cipher = Aes256Gcm::new(material.bytes().into());
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad(&out, context) })
        .map_err(|_| CryptoError::Malformed)?;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts a parsed blob with the material of the version it names.
pub fn decrypt(material: &KeyMaterial, blob: &CiphertextBlob<'_>, context: &[u8]) -> Result<Plaintext, CryptoError> {
    let cipher = Aes256Gcm::new(material.bytes().into());
    cipher
        .decrypt(Nonce::from_slice(blob.nonce), Payload { msg: blob.body, aad: &aad(blob.header, context) })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn round_trip_binds_context_key_and_header() {
        let m = KeyMaterial::generate(&mut OsRng);
        let blob = encrypt(&m, ID, 3, b"ctx", b"hello", &mut OsRng).unwrap();
        let parsed = CiphertextBlob::parse(&blob).unwrap();
        assert_eq!((parsed.key_id, parsed.version), (ID, 3));
        assert_eq!(&decrypt(&m, &parsed, b"ctx").unwrap()[..], b"hello");
        assert_eq!(decrypt(&m, &parsed, b"ctX").err(), Some(CryptoError::Authentication));
        let other = KeyMaterial::generate(&mut OsRng);
        assert_eq!(decrypt(&other, &parsed, b"ctx").err(), Some(CryptoError::Authentication));
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 0x01;
            let ok = CiphertextBlob::parse(&t).ok().and_then(|p| decrypt(&m, &p, b"ctx").ok());
            assert!(ok.is_none(), "flipping byte {i} still decrypts");
        }
    }

    #[test]
    fn parse_never_panics_on_short_or_odd_input() {
        for len in 0..80 {
            let _ = CiphertextBlob::parse(&vec![1u8; len]);
            let _ = CiphertextBlob::parse(&vec![0xffu8; len]);
        }
        assert!(CiphertextBlob::parse(&[1, 200, 0, 0]).is_err());
        assert!(CiphertextBlob::parse(&[2; 80]).is_err());
    }
}
