//! Import of key material (BYOK): the RSA wrapping key pair of GetParametersForImport, the import
//! token, unwrapping the caller's wrapped material, and the commitment a key keeps to it.
//!
//! Import token, format 1 (frozen; the wrapping private key travels inside it, so any node of
//! the region can take the import and GetParametersForImport writes nothing):
//!
//! ```text
//! 0x01 | wrapping algorithm (u8) | expiry, ms since the epoch (u64 BE) | wrap v2 of the PKCS#8
//! wrap v2 "key id" = "keyraft/import-token/v1|" key id "|" algorithm code "|" expiry (decimal),
//! version 0
//! ```
//!
//! Algorithm codes: 1 RSAES_OAEP_SHA_1, 2 RSAES_OAEP_SHA_256, 3 RSA_AES_KEY_WRAP_SHA_1,
//! 4 RSA_AES_KEY_WRAP_SHA_256. The AAD binds the token to its key, algorithm and expiry.
//!
//! Commitment to imported material: HMAC-SHA-256 keyed by the root key over
//! `"keyraft/import-commitment/v1" | key id | 0x00 | material` — deterministic, so the state
//! machine compares it without seeing the material. `material`: the 32 bytes of a symmetric key,
//! the raw bytes of an HMAC key, the DER SubjectPublicKeyInfo of an asymmetric key's imported
//! private key.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::hmac;
use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_128, AES_256};
use aws_lc_rs::rsa::{
    KeySize, OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::secret::{KeyMaterial, RootKey};

const TOKEN_FORMAT: u8 = 1;
const TOKEN_HEADER: usize = 1 + 1 + 8;

/// AWS `AlgorithmSpec` of GetParametersForImport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrappingAlgorithm {
    RsaesOaepSha1,
    RsaesOaepSha256,
    RsaAesKeyWrapSha1,
    RsaAesKeyWrapSha256,
}

impl WrappingAlgorithm {
    fn code(self) -> u8 {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 => 1,
            WrappingAlgorithm::RsaesOaepSha256 => 2,
            WrappingAlgorithm::RsaAesKeyWrapSha1 => 3,
            WrappingAlgorithm::RsaAesKeyWrapSha256 => 4,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => WrappingAlgorithm::RsaesOaepSha1,
            2 => WrappingAlgorithm::RsaesOaepSha256,
            3 => WrappingAlgorithm::RsaAesKeyWrapSha1,
            4 => WrappingAlgorithm::RsaAesKeyWrapSha256,
            _ => return None,
        })
    }

    fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => &OAEP_SHA1_MGF1SHA1,
            WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }
}

/// A fresh RSA wrapping key pair: PKCS#8 private key (zeroized) and DER SubjectPublicKeyInfo.
pub struct WrappingKeyPair {
    pub private_pkcs8: Zeroizing<Vec<u8>>,
    pub public_der: Vec<u8>,
}

/// Generates an RSA wrapping key pair of `bits` (2048, 3072 or 4096) on aws-lc-rs.
pub fn generate_wrapping_key(bits: u32) -> Result<WrappingKeyPair, CryptoError> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => return Err(CryptoError::Unsupported(format!("RSA_{bits} is not a wrapping key spec"))),
    };
    let key = PrivateDecryptingKey::generate(size).map_err(|_| CryptoError::Asymmetric)?;
    let der: Pkcs8V1Der = key.as_der().map_err(|_| CryptoError::Asymmetric)?;
    let public: PublicKeyX509Der = key.public_key().as_der().map_err(|_| CryptoError::Asymmetric)?;
    Ok(WrappingKeyPair { private_pkcs8: Zeroizing::new(der.as_ref().to_vec()), public_der: public.as_ref().to_vec() })
}

fn token_binding(key_id: &str, alg: WrappingAlgorithm, expires_ms: u64) -> String {
    format!("keyraft/import-token/v1|{key_id}|{}|{expires_ms}", alg.code())
}

/// Seals an import token for `key_id` (format 1 above).
pub fn seal_token(
    root: &RootKey,
    key_id: &str,
    alg: WrappingAlgorithm,
    expires_ms: u64,
    private_pkcs8: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Vec<u8> {
    let wrapped = crate::wrap::wrap_bytes(root, &token_binding(key_id, alg, expires_ms), 0, private_pkcs8, rng);
    let mut out = Vec::with_capacity(TOKEN_HEADER + wrapped.len());
    out.push(TOKEN_FORMAT);
    out.push(alg.code());
    out.extend_from_slice(&expires_ms.to_be_bytes());
    out.extend_from_slice(&wrapped);
    out
}

/// An opened import token.
pub struct ImportToken {
    pub algorithm: WrappingAlgorithm,
    pub expires_ms: u64,
    pub private_pkcs8: Zeroizing<Vec<u8>>,
}

/// Opens an import token made for `key_id`. Any damage, another key, another region's root key:
/// `CryptoError::Unwrap`. The caller checks the expiry.
pub fn open_token(root: &RootKey, key_id: &str, token: &[u8]) -> Result<ImportToken, CryptoError> {
    if token.len() < TOKEN_HEADER || token[0] != TOKEN_FORMAT {
        return Err(CryptoError::Unwrap);
    }
    let algorithm = WrappingAlgorithm::from_code(token[1]).ok_or(CryptoError::Unwrap)?;
    let mut exp = [0u8; 8];
    exp.copy_from_slice(&token[2..TOKEN_HEADER]);
    let expires_ms = u64::from_be_bytes(exp);
    let private_pkcs8 =
        crate::wrap::unwrap_bytes(root, &token_binding(key_id, algorithm, expires_ms), 0, &token[TOKEN_HEADER..])?;
    Ok(ImportToken { algorithm, expires_ms, private_pkcs8 })
}

/// Unwraps `encrypted` (the caller's EncryptedKeyMaterial) with the token's private key:
/// RSAES_OAEP_*: RSA-OAEP of the material; RSA_AES_KEY_WRAP_*: RSA-OAEP of an ephemeral AES key
/// (the first modulus-size bytes), then the material under RFC 5649 AES key wrap with padding.
/// Any failure: `CryptoError::Decrypt` (no detail).
pub fn unwrap_material(token: &ImportToken, encrypted: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let key = PrivateDecryptingKey::from_pkcs8(&token.private_pkcs8).map_err(|_| CryptoError::Asymmetric)?;
    let key = OaepPrivateDecryptingKey::new(key).map_err(|_| CryptoError::Asymmetric)?;
    let n = key.key_size_bytes();
    let oaep = token.algorithm.oaep();
    let rsa = |ct: &[u8]| -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let mut out = Zeroizing::new(vec![0u8; n]);
        let len = key.decrypt(oaep, ct, &mut out, None).map_err(|_| CryptoError::Decrypt)?.len();
        out.truncate(len);
        Ok(out)
    };
    match token.algorithm {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256 => rsa(encrypted),
        WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
            if encrypted.len() <= n {
                return Err(CryptoError::Decrypt);
            }
            let kek_bytes = rsa(&encrypted[..n])?;
            let kek = match kek_bytes.len() {
                16 => AesKek::new(&AES_128, &kek_bytes),
                32 => AesKek::new(&AES_256, &kek_bytes),
                _ => return Err(CryptoError::Decrypt),
            }
            .map_err(|_| CryptoError::Decrypt)?;
            let wrapped = &encrypted[n..];
            let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
            let len = kek.unwrap_with_padding(wrapped, &mut out).map_err(|_| CryptoError::Decrypt)?.len();
            out.truncate(len);
            Ok(out)
        }
    }
}

/// The commitment a key keeps to its imported material (see the module docs).
pub fn commitment(root: &RootKey, key_id: &str, material: &KeyMaterial) -> Vec<u8> {
    commitment_bytes(root, key_id, material.bytes())
}

/// The same commitment over other material: an HMAC key's raw bytes, or, for an asymmetric
/// key, the DER SubjectPublicKeyInfo derived from the imported private key (so the same key
/// re-imports whatever its PKCS#8 encoding).
pub fn commitment_bytes(root: &RootKey, key_id: &str, material: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, root.bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(b"keyraft/import-commitment/v1");
    ctx.update(key_id.as_bytes());
    ctx.update(&[0]);
    ctx.update(material);
    ctx.sign().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey};
    use rand::rngs::OsRng;

    fn encrypt(public: &[u8], alg: WrappingAlgorithm, pt: &[u8]) -> Vec<u8> {
        let k = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(public).unwrap()).unwrap();
        let mut out = vec![0u8; k.ciphertext_size()];
        k.encrypt(alg.oaep(), pt, &mut out, None).unwrap().to_vec()
    }

    #[test]
    fn token_round_trip_binding_and_unwrap() {
        let root = RootKey::generate(&mut OsRng, 1);
        let pair = generate_wrapping_key(2048).unwrap();
        let t = seal_token(&root, "k1", WrappingAlgorithm::RsaesOaepSha256, 99, &pair.private_pkcs8, &mut OsRng);
        let opened = open_token(&root, "k1", &t).unwrap();
        assert_eq!((opened.algorithm, opened.expires_ms), (WrappingAlgorithm::RsaesOaepSha256, 99));
        assert!(open_token(&root, "k2", &t).is_err());
        let mut changed = t.clone();
        changed[1] = 1;
        assert!(open_token(&root, "k1", &changed).is_err(), "algorithm is bound");
        let mut changed = t.clone();
        changed[9] ^= 1;
        assert!(open_token(&root, "k1", &changed).is_err(), "expiry is bound");
        assert!(open_token(&RootKey::generate(&mut OsRng, 1), "k1", &t).is_err());

        let material = [0x42u8; 32];
        let ct = encrypt(&pair.public_der, WrappingAlgorithm::RsaesOaepSha256, &material);
        assert_eq!(unwrap_material(&opened, &ct).unwrap().as_slice(), &material);
        let ct1 = encrypt(&pair.public_der, WrappingAlgorithm::RsaesOaepSha1, &material);
        assert!(unwrap_material(&opened, &ct1).is_err(), "wrong OAEP hash");

        // RSA_AES_KEY_WRAP_SHA_256: RSA-OAEP(kek) | KWP(kek, material).
        let kek = [7u8; 32];
        let k = AesKek::new(&AES_256, &kek).unwrap();
        let mut kwp = vec![0u8; 48];
        let kwp = k.wrap_with_padding(&material, &mut kwp).unwrap().to_vec();
        let mut blob = encrypt(&pair.public_der, WrappingAlgorithm::RsaAesKeyWrapSha256, &kek);
        blob.extend_from_slice(&kwp);
        let aes = ImportToken {
            algorithm: WrappingAlgorithm::RsaAesKeyWrapSha256,
            expires_ms: 0,
            private_pkcs8: opened.private_pkcs8.clone(),
        };
        assert_eq!(unwrap_material(&aes, &blob).unwrap().as_slice(), &material);
        let m = KeyMaterial::from_slice(&material).unwrap();
        assert_eq!(commitment(&root, "k1", &m), commitment(&root, "k1", &m));
        assert_ne!(commitment(&root, "k1", &m), commitment(&root, "k2", &m));
    }
}
