//! ML-DSA over an externally computed μ (AWS's MessageType EXTERNAL_MU): μ = SHAKE256(tr ‖ M′)
//! with tr = SHAKE256(pk, 64) and, in pure mode with an empty context, M′ = 0 ‖ 0 ‖ M (FIPS 204
//! §5.2, §6.2).
//!
//! aws-lc-rs 1.19 has no API for it; AWS-LC's `EVP_PKEY_sign`/`EVP_PKEY_verify` on an ML-DSA
//! key take exactly this μ. So this module parses the key with `EVP_parse_private_key` /
//! `EVP_parse_public_key` and calls them through aws-lc-sys (the version aws-lc-rs links). Every
//! AWS-LC object is owned by a guard that frees it; buffers are Rust-owned and sized.

use std::ptr;

use aws_lc_sys as ffi;

use crate::error::CryptoError;

/// μ is 64 bytes.
pub(crate) const MU_LEN: usize = 64;

struct Pkey(*mut ffi::EVP_PKEY);

impl Drop for Pkey {
    fn drop(&mut self) {
        // SAFETY: the pointer came from EVP_parse_*_key, is non-null (checked in `parse`) and is
        // freed once, here.
        unsafe { ffi::EVP_PKEY_free(self.0) }
    }
}

struct Ctx(*mut ffi::EVP_PKEY_CTX);

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: as for `Pkey`: non-null (checked in `context`), freed once.
        unsafe { ffi::EVP_PKEY_CTX_free(self.0) }
    }
}

/// AWS-LC failed: forget its error queue (thread-local) and say so.
fn failed<T>() -> Result<T, CryptoError> {
    // SAFETY: no arguments; clears this thread's AWS-LC error queue.
    unsafe { ffi::ERR_clear_error() };
    Err(CryptoError::Asymmetric)
}

/// Parses a DER PKCS#8 (`private`) or SubjectPublicKeyInfo, which must be an ML-DSA key and
/// nothing more.
fn parse(der: &[u8], private: bool) -> Result<Pkey, CryptoError> {
    let mut cbs = ffi::CBS { data: ptr::null(), len: 0 };
    // SAFETY: `cbs` borrows `der`, which outlives every use of it below; the parse functions only
    // read `der.len()` bytes from it.
    let key = unsafe {
        ffi::CBS_init(&mut cbs, der.as_ptr(), der.len());
        if private {
            ffi::EVP_parse_private_key(&mut cbs)
        } else {
            ffi::EVP_parse_public_key(&mut cbs)
        }
    };
    if key.is_null() {
        return failed();
    }
    let key = Pkey(key);
    // SAFETY: `key.0` is a valid EVP_PKEY.
    let id = unsafe { ffi::EVP_PKEY_id(key.0) };
    if cbs.len != 0 || id != ffi::EVP_PKEY_PQDSA {
        return failed();
    }
    Ok(key)
}

fn context(key: &Pkey) -> Result<Ctx, CryptoError> {
    // SAFETY: `key.0` is a valid EVP_PKEY; the context takes its own reference to it.
    let ctx = unsafe { ffi::EVP_PKEY_CTX_new(key.0, ptr::null_mut()) };
    if ctx.is_null() {
        return failed();
    }
    Ok(Ctx(ctx))
}

/// Signs a 64-byte μ with an ML-DSA private key (DER PKCS#8).
pub(crate) fn sign(pkcs8: &[u8], mu: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if mu.len() != MU_LEN {
        return Err(CryptoError::Length { expected: MU_LEN });
    }
    let key = parse(pkcs8, true)?;
    let ctx = context(&key)?;
    let mut len: usize = 0;
    // SAFETY: `ctx` is valid; the first EVP_PKEY_sign (null output) only writes the maximum
    // signature size to `len`; the second writes at most `len` bytes into `sig`, which has
    // exactly `len` bytes, and reads `mu.len()` bytes from `mu`.
    let mut sig = unsafe {
        if ffi::EVP_PKEY_sign_init(ctx.0) != 1
            || ffi::EVP_PKEY_sign(ctx.0, ptr::null_mut(), &mut len, mu.as_ptr(), mu.len()) != 1
        {
            return failed();
        }
        let mut sig = vec![0u8; len];
        if ffi::EVP_PKEY_sign(ctx.0, sig.as_mut_ptr(), &mut len, mu.as_ptr(), mu.len()) != 1 {
            return failed();
        }
        sig
    };
    sig.truncate(len);
    Ok(sig)
}

/// Verifies an ML-DSA signature over a 64-byte μ with a DER SubjectPublicKeyInfo.
pub(crate) fn verify(spki: &[u8], mu: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
    if mu.len() != MU_LEN {
        return Err(CryptoError::Length { expected: MU_LEN });
    }
    let key = parse(spki, false)?;
    let ctx = context(&key)?;
    // SAFETY: `ctx` is valid; EVP_PKEY_verify reads `signature.len()` and `mu.len()` bytes from
    // the two slices.
    let ok = unsafe {
        ffi::EVP_PKEY_verify_init(ctx.0) == 1
            && ffi::EVP_PKEY_verify(ctx.0, signature.as_ptr(), signature.len(), mu.as_ptr(), mu.len()) == 1
    };
    if !ok {
        // A bad signature is an answer, not an error; clear AWS-LC's queue either way.
        // SAFETY: as in `failed`.
        unsafe { ffi::ERR_clear_error() };
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{KeyPair as _, PqdsaKeyPair, UnparsedPublicKey, ML_DSA_44, ML_DSA_44_SIGNING};
    use sha3::digest::{ExtendableOutput, Update, XofReader};
    use sha3::Shake256;

    fn shake256(parts: &[&[u8]], out: &mut [u8]) {
        let mut h = Shake256::default();
        for p in parts {
            h.update(p);
        }
        h.finalize_xof().read(out);
    }

    /// μ computed here from FIPS 204 (not by AWS-LC): a signature over it must verify as a
    /// signature over the message itself with aws-lc-rs's ordinary ML-DSA verifier.
    #[test]
    fn external_mu_is_fips_204_mu() {
        let kp = PqdsaKeyPair::generate(&ML_DSA_44_SIGNING).unwrap();
        let pkcs8 = kp.to_pkcs8v1().unwrap();
        let spki = kp.public_key().as_der().unwrap();
        let raw_pk = kp.public_key().as_ref().to_vec();
        let message = b"a message signed through its mu";
        let mut tr = [0u8; 64];
        shake256(&[&raw_pk], &mut tr);
        let mut mu = [0u8; 64];
        shake256(&[&tr, &[0, 0], message], &mut mu);

        let sig = super::sign(pkcs8.as_ref(), &mu).unwrap();
        UnparsedPublicKey::new(&ML_DSA_44, spki.as_ref()).verify(message, &sig).expect("verifies over the message");
        assert!(super::verify(spki.as_ref(), &mu, &sig).unwrap());
        let mut other = mu;
        other[0] ^= 1;
        assert!(!super::verify(spki.as_ref(), &other, &sig).unwrap());
        assert!(super::sign(pkcs8.as_ref(), &mu[..32]).is_err());
        assert!(super::sign(b"not a key", &mu).is_err());
        assert!(super::verify(b"not a key", &mu, &sig).is_err());
    }
}
