//! Sealing key material to another region (multi-region keys, invariant M4).
//!
//! Every region has a static X25519 **transport key**; its public half is in every node's
//! region directory (cluster config). A message from region S to region D is sealed with a key
//! derived from two X25519 agreements — a fresh ephemeral key with D's static key
//! (confidentiality, forward secrecy against S's key) and S's static key with D's static key
//! (authenticity: only S or D can derive it) — the same shape as HPKE's Auth mode:
//!
//! ```text
//! sealed = 0x01 | ephemeral public (32) | nonce (12) | AES-256-GCM(plaintext) (n + 16)
//! key    = HKDF-SHA256(salt = "keyraft/mrk-transport/v1",
//!                      ikm  = X25519(eph, D) | X25519(S, D),
//!                      info = eph public | S public | D public)
//! AAD    = "keyraft/mrk-transport/v1" | context
//! ```
//!
//! The caller puts everything that must not be altered in `context` (regions, key id, epoch,
//! version, the shared properties sent in the clear). Material is never in plaintext on the wire,
//! not even inside TLS.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::hkdf;
use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;

const FORMAT: u8 = 1;
const LABEL: &[u8] = b"keyraft/mrk-transport/v1";
const HEADER: usize = 1 + 32 + 12;

/// A region's static X25519 transport key. Zeroized on drop; no `Debug`, `Clone`, `Serialize`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct TransportKey {
    seed: [u8; 32],
    #[zeroize(skip)]
    public: [u8; 32],
}

fn key_error<E>(_: E) -> CryptoError {
    CryptoError::Unsupported("X25519 transport key operation failed".into())
}

impl TransportKey {
    pub fn generate(rng: &mut impl CryptoRngCore) -> Result<Self, CryptoError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self::from_slice(seed.as_ref())
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let seed: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Length { expected: 32 })?;
        let pk = PrivateKey::from_private_key(&X25519, &seed).map_err(key_error)?;
        let public: [u8; 32] = pk.compute_public_key().map_err(key_error)?.as_ref().try_into().map_err(key_error)?;
        Ok(TransportKey { seed, public })
    }

    /// The public half (32 bytes), published in the cluster config.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The private half as hex, for writing the key file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(64));
        for b in self.seed {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
        }
        s
    }

    fn private(&self) -> Result<PrivateKey, CryptoError> {
        PrivateKey::from_private_key(&X25519, &self.seed).map_err(key_error)
    }
}

fn dh(private: &PrivateKey, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    agreement::agree(private, UnparsedPublicKey::new(&X25519, peer), CryptoError::Authentication, |s| {
        Ok(Zeroizing::new(s.to_vec()))
    })
}

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn derive(dh1: &[u8], dh2: &[u8], eph: &[u8], sender: &[u8], dest: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut ikm = Zeroizing::new(Vec::with_capacity(64));
    ikm.extend_from_slice(dh1);
    ikm.extend_from_slice(dh2);
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, LABEL).extract(&ikm);
    let info = [eph, sender, dest];
    let okm = prk.expand(&info, Len32).map_err(|_| CryptoError::Authentication)?;
    let mut key = Zeroizing::new([0u8; 32]);
    okm.fill(key.as_mut()).map_err(|_| CryptoError::Authentication)?;
    Ok(key)
}

fn aad(context: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(LABEL.len() + context.len());
    a.extend_from_slice(LABEL);
    a.extend_from_slice(context);
    a
}

/// Seals `plaintext` from `sender` to the region whose transport public key is `dest_public`.
pub fn seal(
    sender: &TransportKey,
    dest_public: &[u8],
    context: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    let eph = TransportKey::generate(rng)?;
    let dh1 = dh(&eph.private()?, dest_public)?;
    let dh2 = dh(&sender.private()?, dest_public)?;
    let key = derive(&dh1, &dh2, &eph.public, &sender.public, dest_public)?;
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let ct = Aes256Gcm::new(key.as_ref().into())
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad(context) })
        .map_err(|_| CryptoError::Authentication)?;
    let mut out = Vec::with_capacity(HEADER + ct.len());
    out.push(FORMAT);
    out.extend_from_slice(&eph.public);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a message sealed by the region whose transport public key is `sender_public` to
/// `receiver`. Fails unless it was sealed by that sender, to this receiver, with this context.
pub fn open(
    receiver: &TransportKey,
    sender_public: &[u8],
    context: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < HEADER + 16 || sealed[0] != FORMAT {
        return Err(CryptoError::Malformed);
    }
    let eph_public = &sealed[1..33];
    let private = receiver.private()?;
    let dh1 = dh(&private, eph_public)?;
    let dh2 = dh(&private, sender_public)?;
    let key = derive(&dh1, &dh2, eph_public, sender_public, &receiver.public)?;
    Aes256Gcm::new(key.as_ref().into())
        .decrypt(Nonce::from_slice(&sealed[33..HEADER]), Payload { msg: &sealed[HEADER..], aad: &aad(context) })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication)
}

/// The context of a reply: bound to the request it answers (the SHA-256 of the request's sealed
/// bytes, unique per request through its ephemeral key), so a reply cannot be forged, replayed
/// for another request, or made by anyone but the destination.
fn reply_context(request_sealed: &[u8]) -> Vec<u8> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, request_sealed);
    let mut c = b"reply\0".to_vec();
    c.extend_from_slice(digest.as_ref());
    c
}

/// Seals the destination's reply to the request `request_sealed`, back to its sender.
pub fn seal_reply(
    destination: &TransportKey,
    sender_public: &[u8],
    request_sealed: &[u8],
    reply: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    seal(destination, sender_public, &reply_context(request_sealed), reply, rng)
}

/// Opens a reply sealed by [`seal_reply`] for the request `request_sealed` this sender made.
pub fn open_reply(
    sender: &TransportKey,
    destination_public: &[u8],
    request_sealed: &[u8],
    sealed_reply: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    open(sender, destination_public, &reply_context(request_sealed), sealed_reply)
}

/// Constant-time equality of two secrets.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use rand::rngs::OsRng;

    use super::*;

    #[test]
    fn seal_opens_only_for_the_right_pair_and_context() {
        let (s, d, other) = (
            TransportKey::generate(&mut OsRng).unwrap(),
            TransportKey::generate(&mut OsRng).unwrap(),
            TransportKey::generate(&mut OsRng).unwrap(),
        );
        let msg = b"backing key bytes 0123456789abcdef";
        let sealed = seal(&s, &d.public_key(), b"ctx", msg, &mut OsRng).unwrap();
        assert_eq!(open(&d, &s.public_key(), b"ctx", &sealed).unwrap().as_slice(), msg);
        assert!(!sealed.windows(msg.len()).any(|w| w == msg), "plaintext visible in the sealed bytes");
        // Another receiver, another claimed sender, another context, or a flipped bit: refused.
        assert!(open(&other, &s.public_key(), b"ctx", &sealed).is_err());
        assert!(open(&d, &other.public_key(), b"ctx", &sealed).is_err());
        assert!(open(&d, &s.public_key(), b"ctx2", &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open(&d, &s.public_key(), b"ctx", &bad).is_err(), "flip at {i} accepted");
        }
        assert!(open(&d, &s.public_key(), b"ctx", &sealed[..sealed.len() - 1]).is_err());
        // Two seals of the same message differ (fresh ephemeral key and nonce).
        assert_ne!(seal(&s, &d.public_key(), b"ctx", msg, &mut OsRng).unwrap(), sealed);
    }

    #[test]
    fn replies_open_only_for_their_request() {
        let (s, d) = (TransportKey::generate(&mut OsRng).unwrap(), TransportKey::generate(&mut OsRng).unwrap());
        let req = seal(&s, &d.public_key(), b"ctx", b"request", &mut OsRng).unwrap();
        let other_req = seal(&s, &d.public_key(), b"ctx", b"request", &mut OsRng).unwrap();
        let reply = seal_reply(&d, &s.public_key(), &req, b"holds v7", &mut OsRng).unwrap();
        assert_eq!(open_reply(&s, &d.public_key(), &req, &reply).unwrap().as_slice(), b"holds v7");
        assert!(open_reply(&s, &d.public_key(), &other_req, &reply).is_err(), "replayed for another request");
        // Only the destination can make it: a reply sealed by the sender itself does not open.
        let forged = seal_reply(&s, &s.public_key(), &req, b"holds v7", &mut OsRng).unwrap();
        assert!(open_reply(&s, &d.public_key(), &req, &forged).is_err());
        assert!(same_secret(b"abc", b"abc") && !same_secret(b"abc", b"abd") && !same_secret(b"abc", b"ab"));
    }

    #[test]
    fn keys_roundtrip_through_hex() {
        let k = TransportKey::generate(&mut OsRng).unwrap();
        let back = TransportKey::from_slice(&hex::decode(k.to_hex().as_str()).unwrap()).unwrap();
        assert_eq!(back.public_key(), k.public_key());
        assert!(TransportKey::from_slice(&[1; 31]).is_err());
    }
}
