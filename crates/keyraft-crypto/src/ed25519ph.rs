//! Ed25519ph (RFC 8032 §5.1, empty context) over a SHA-512 digest: AWS's `ED25519_PH_SHA_512`
//! with MessageType DIGEST.
//!
//! aws-lc-rs 1.19 has no safe API for the pre-hashed variant, so this module calls AWS-LC's
//! `ED25519ph_sign_digest` / `ED25519ph_verify_digest` through aws-lc-sys — the same library
//! (and version) aws-lc-rs links — on fixed-size buffers owned here. It is the crate's only
//! `unsafe`. Checked against RFC 8032's §7.3 test vector.

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::Ed25519KeyPair;
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32-byte key follows.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Signs a 64-byte SHA-512 digest with Ed25519ph.
pub(crate) fn sign_digest(kp: &Ed25519KeyPair, digest: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let digest: &[u8; 64] = digest.try_into().map_err(|_| CryptoError::Length { expected: 64 })?;
    let seed = kp.seed().and_then(|s| s.as_be_bytes()).map_err(|_| CryptoError::Asymmetric)?;
    let seed: &[u8; 32] = seed.as_ref().try_into().map_err(|_| CryptoError::Asymmetric)?;
    let mut public = [0u8; 32];
    let mut private = Zeroizing::new([0u8; 64]);
    let mut signature = [0u8; 64];
    // SAFETY: every pointer is to a live, exclusively borrowed or shared buffer of exactly the
    // size AWS-LC reads or writes (seed 32, public 32, private 64, digest 64, signature 64); the
    // context is empty (null, length 0), which AWS-LC accepts.
    let ok = unsafe {
        aws_lc_sys::ED25519_keypair_from_seed(public.as_mut_ptr(), private.as_mut_ptr(), seed.as_ptr());
        aws_lc_sys::ED25519ph_sign_digest(
            signature.as_mut_ptr(),
            digest.as_ptr(),
            private.as_ptr(),
            std::ptr::null(),
            0,
        )
    };
    if ok == 1 {
        Ok(signature.to_vec())
    } else {
        Err(CryptoError::Asymmetric)
    }
}

/// Verifies an Ed25519ph signature over a 64-byte SHA-512 digest with a DER SubjectPublicKeyInfo
/// (or the raw 32-byte key).
pub(crate) fn verify_digest(spki: &[u8], digest: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
    let digest: &[u8; 64] = digest.try_into().map_err(|_| CryptoError::Length { expected: 64 })?;
    let public: &[u8; 32] =
        spki.strip_prefix(&SPKI_PREFIX[..]).unwrap_or(spki).try_into().map_err(|_| CryptoError::Asymmetric)?;
    let Ok(signature) = <&[u8; 64]>::try_from(signature) else { return Ok(false) };
    // SAFETY: fixed-size buffers of the sizes AWS-LC reads (digest 64, signature 64, public 32);
    // empty context.
    let ok = unsafe {
        aws_lc_sys::ED25519ph_verify_digest(digest.as_ptr(), signature.as_ptr(), public.as_ptr(), std::ptr::null(), 0)
    };
    Ok(ok == 1)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::digest::{digest, SHA512};

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 8032 §7.3, "TEST abc".
    #[test]
    fn rfc8032_vector() {
        let seed = hex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42");
        let public = hex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf");
        let expected = hex("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
             31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406");
        let kp = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        let d = digest(&SHA512, b"abc");
        assert_eq!(sign_digest(&kp, d.as_ref()).unwrap(), expected);
        let spki = [&SPKI_PREFIX[..], &public].concat();
        assert!(verify_digest(&spki, d.as_ref(), &expected).unwrap());
        let mut bad = expected.clone();
        bad[63] ^= 1;
        assert!(!verify_digest(&spki, d.as_ref(), &bad).unwrap());
        assert!(!verify_digest(&spki, digest(&SHA512, b"abd").as_ref(), &expected).unwrap());
        assert!(matches!(sign_digest(&kp, &[0; 32]), Err(CryptoError::Length { expected: 64 })));
    }
}
