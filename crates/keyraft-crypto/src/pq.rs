//! Post-quantum keys on aws-lc-rs (stable API in 1.19, no cargo feature needed): ML-DSA
//! (FIPS 204: ML_DSA_44/65/87, `ML_DSA_SHAKE_256`) and ML-KEM (FIPS 203: ML_KEM_512/768/1024,
//! Encapsulate/Decapsulate).
//!
//! - ML-DSA: the private key is aws-lc-rs's PKCS#8 v1 (the 32-byte seed form), the public key DER
//!   SubjectPublicKeyInfo. Signing is "pure" ML-DSA with an empty context over a RAW message.
//!   EXTERNAL_MU (signing a caller-computed µ) is not exposed by aws-lc-rs 1.19:
//!   [`CryptoError::Unsupported`].
//! - ML-KEM: aws-lc-rs has no PKCS#8 for KEM keys, so the private key is the raw expanded
//!   decapsulation key (FIPS 203 `dk`, what `DecapsulationKey::key_bytes` gives). The public key
//!   is DER SubjectPublicKeyInfo built here: algorithm `id-alg-ml-kem-{512,768,1024}`
//!   (2.16.840.1.101.3.4.4.{1,2,3}, no parameters) and the raw encapsulation key as the bit string,
//!   as in the IETF LAMPS ML-KEM certificate profile.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::kem::{Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_1024, ML_KEM_512, ML_KEM_768};
use aws_lc_rs::signature::{
    self as sig, KeyPair as _, PqdsaKeyPair, PqdsaSigningAlgorithm, PqdsaVerificationAlgorithm,
};
use keyraft_core::KeySpec;
use zeroize::Zeroizing;

use crate::error::CryptoError;

fn lc<T, E>(r: Result<T, E>) -> Result<T, CryptoError> {
    r.map_err(|_| CryptoError::Asymmetric)
}

/// Whether `spec` is an ML-DSA key spec.
pub fn is_ml_dsa(spec: KeySpec) -> bool {
    matches!(spec, KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87)
}

/// Whether `spec` is an ML-KEM key spec.
pub fn is_ml_kem(spec: KeySpec) -> bool {
    matches!(spec, KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024)
}

pub(crate) fn dsa_signing(spec: KeySpec) -> Option<&'static PqdsaSigningAlgorithm> {
    match spec {
        KeySpec::MlDsa44 => Some(&sig::ML_DSA_44_SIGNING),
        KeySpec::MlDsa65 => Some(&sig::ML_DSA_65_SIGNING),
        KeySpec::MlDsa87 => Some(&sig::ML_DSA_87_SIGNING),
        _ => None,
    }
}

fn dsa_verification(spec: KeySpec) -> Option<&'static PqdsaVerificationAlgorithm> {
    match spec {
        KeySpec::MlDsa44 => Some(&sig::ML_DSA_44),
        KeySpec::MlDsa65 => Some(&sig::ML_DSA_65),
        KeySpec::MlDsa87 => Some(&sig::ML_DSA_87),
        _ => None,
    }
}

type KemAlgorithm = aws_lc_rs::kem::Algorithm<aws_lc_rs::kem::AlgorithmId>;

fn kem_alg(spec: KeySpec) -> Option<(&'static KemAlgorithm, u8)> {
    match spec {
        KeySpec::MlKem512 => Some((&ML_KEM_512, 1)),
        KeySpec::MlKem768 => Some((&ML_KEM_768, 2)),
        KeySpec::MlKem1024 => Some((&ML_KEM_1024, 3)),
        _ => None,
    }
}

/// A generated post-quantum key pair: the private bytes (PKCS#8 for ML-DSA, raw `dk` for ML-KEM)
/// and the DER SubjectPublicKeyInfo.
pub(crate) type Generated = (Zeroizing<Vec<u8>>, Vec<u8>);

/// Generates a key pair of `spec`; `None` when `spec` is not post-quantum.
pub(crate) fn generate(spec: KeySpec) -> Result<Option<Generated>, CryptoError> {
    if let Some(alg) = dsa_signing(spec) {
        let kp = lc(PqdsaKeyPair::generate(alg))?;
        let doc = lc(kp.to_pkcs8v1())?;
        let public: PublicKeyX509Der = lc(kp.public_key().as_der())?;
        return Ok(Some((Zeroizing::new(doc.as_ref().to_vec()), public.as_ref().to_vec())));
    }
    if let Some((alg, _)) = kem_alg(spec) {
        let dk = lc(DecapsulationKey::generate(alg))?;
        let private = Zeroizing::new(lc(dk.key_bytes())?.as_ref().to_vec());
        let ek = lc(dk.encapsulation_key())?;
        let public = kem_spki(spec, lc(ek.key_bytes())?.as_ref())?;
        return Ok(Some((private, public)));
    }
    Ok(None)
}

pub(crate) fn load_dsa(spec: KeySpec, der: &[u8]) -> Result<Option<PqdsaKeyPair>, CryptoError> {
    match dsa_signing(spec) {
        Some(alg) => Ok(Some(lc(PqdsaKeyPair::from_pkcs8(alg, der))?)),
        None => Ok(None),
    }
}

pub(crate) fn load_kem(spec: KeySpec, raw: &[u8]) -> Result<Option<DecapsulationKey>, CryptoError> {
    match kem_alg(spec) {
        Some((alg, _)) => Ok(Some(lc(DecapsulationKey::new(alg, raw))?)),
        None => Ok(None),
    }
}

pub(crate) fn sign_dsa(kp: &PqdsaKeyPair, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = vec![0u8; kp.algorithm().signature_len()];
    let n = lc(kp.sign(message, &mut out))?;
    out.truncate(n);
    Ok(out)
}

/// Verifies an ML-DSA signature over a RAW message with a DER SubjectPublicKeyInfo.
pub(crate) fn verify_dsa(
    spec: KeySpec,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<bool, CryptoError> {
    let alg =
        dsa_verification(spec).ok_or_else(|| CryptoError::Unsupported(format!("KeySpec {spec} is not ML-DSA")))?;
    Ok(sig::UnparsedPublicKey::new(alg, public_key).verify(message, signature).is_ok())
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

fn kem_algorithm_identifier(spec: KeySpec) -> Result<Vec<u8>, CryptoError> {
    let (_, arc) = kem_alg(spec).ok_or_else(|| CryptoError::Unsupported(format!("KeySpec {spec} is not ML-KEM")))?;
    Ok(der(0x30, &der(0x06, &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, arc])))
}

/// The DER SubjectPublicKeyInfo of a raw ML-KEM encapsulation key.
pub fn kem_spki(spec: KeySpec, encapsulation_key: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut body = kem_algorithm_identifier(spec)?;
    let mut bits = vec![0u8];
    bits.extend_from_slice(encapsulation_key);
    body.extend_from_slice(&der(0x03, &bits));
    Ok(der(0x30, &body))
}

/// The expanded decapsulation key length of `spec` (FIPS 203: 1632, 2400, 3168 bytes).
fn kem_dk_len(spec: KeySpec) -> Option<usize> {
    match spec {
        KeySpec::MlKem512 => Some(1632),
        KeySpec::MlKem768 => Some(2400),
        KeySpec::MlKem1024 => Some(3168),
        _ => None,
    }
}

/// A raw ML-KEM decapsulation key as DER PKCS#8 (`OneAsymmetricKey` v0, the IETF LAMPS
/// encoding): algorithm `id-alg-ml-kem-*` without parameters, and as `privateKey` the
/// `expandedKey` choice (an OCTET STRING holding the FIPS 203 decapsulation key). aws-lc-rs has
/// no PKCS#8 for KEM keys, and keeps no seed, so the seed forms are not produced. For
/// GenerateDataKeyPair, whose caller receives the private key.
pub fn kem_pkcs8(spec: KeySpec, dk: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if kem_dk_len(spec) != Some(dk.len()) {
        return Err(CryptoError::Asymmetric);
    }
    let mut body = Zeroizing::new(vec![0x02, 0x01, 0x00]);
    body.extend_from_slice(&kem_algorithm_identifier(spec)?);
    let inner = Zeroizing::new(der(0x04, dk));
    body.extend_from_slice(&Zeroizing::new(der(0x04, &inner)));
    Ok(Zeroizing::new(der(0x30, &body)))
}

/// The raw decapsulation key inside a PKCS#8 made by [`kem_pkcs8`] (exactly that encoding).
pub fn kem_dk_from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let len = kem_dk_len(spec).ok_or_else(|| CryptoError::Unsupported(format!("KeySpec {spec} is not ML-KEM")))?;
    let dk = pkcs8.get(pkcs8.len().saturating_sub(len)..).ok_or(CryptoError::Asymmetric)?;
    if pkcs8.len() <= len || kem_pkcs8(spec, dk)?.as_slice() != pkcs8 {
        return Err(CryptoError::Asymmetric);
    }
    Ok(Zeroizing::new(dk.to_vec()))
}

/// The raw ML-KEM encapsulation key inside a DER SubjectPublicKeyInfo made by [`kem_spki`].
pub fn kem_raw_public_key(spec: KeySpec, spki: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (alg, _) = kem_alg(spec).ok_or_else(|| CryptoError::Unsupported(format!("KeySpec {spec} is not ML-KEM")))?;
    let ek_len = match spec {
        KeySpec::MlKem512 => 800,
        KeySpec::MlKem768 => 1184,
        _ => 1568,
    };
    let raw = spki.get(spki.len().saturating_sub(ek_len)..).ok_or(CryptoError::Asymmetric)?;
    if spki.len() <= ek_len || kem_spki(spec, raw)? != spki {
        return Err(CryptoError::Asymmetric);
    }
    lc(EncapsulationKey::new(alg, raw))?;
    Ok(raw.to_vec())
}

/// Encapsulate: a fresh shared secret and its ciphertext under the public key (DER SPKI).
pub fn encapsulate(spec: KeySpec, spki: &[u8]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), CryptoError> {
    let (alg, _) = kem_alg(spec).ok_or_else(|| CryptoError::Unsupported(format!("KeySpec {spec} is not ML-KEM")))?;
    let raw = kem_raw_public_key(spec, spki)?;
    let ek = lc(EncapsulationKey::new(alg, &raw))?;
    let (ct, secret) = lc(ek.encapsulate())?;
    Ok((ct.as_ref().to_vec(), Zeroizing::new(secret.as_ref().to_vec())))
}

/// Decapsulate with a loaded key. A ciphertext of the wrong length is [`CryptoError::Length`];
/// a modified ciphertext of the right length yields ML-KEM's implicit-rejection secret.
pub(crate) fn decapsulate_with(dk: &DecapsulationKey, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let secret = dk.decapsulate(Ciphertext::from(ciphertext)).map_err(|_| CryptoError::Length { expected: 0 })?;
    Ok(Zeroizing::new(secret.as_ref().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsa_round_trip() {
        for spec in [KeySpec::MlDsa44, KeySpec::MlDsa65, KeySpec::MlDsa87] {
            let (private, public) = generate(spec).unwrap().unwrap();
            let kp = load_dsa(spec, &private).unwrap().unwrap();
            let s = sign_dsa(&kp, b"hello").unwrap();
            assert!(verify_dsa(spec, &public, b"hello", &s).unwrap());
            assert!(!verify_dsa(spec, &public, b"hellO", &s).unwrap());
        }
    }

    #[test]
    fn kem_pkcs8_round_trip_and_shape() {
        for (spec, dk_len) in [(KeySpec::MlKem512, 1632), (KeySpec::MlKem768, 2400), (KeySpec::MlKem1024, 3168)] {
            let (dk, spki) = generate(spec).unwrap().unwrap();
            let p8 = kem_pkcs8(spec, &dk).unwrap();
            // SEQUENCE (long form, 2 length bytes) { INTEGER 0, SEQUENCE { OID 2.16.840.1.101.3.4.4.x }, OCTET STRING { OCTET STRING dk } }
            assert_eq!(&p8[..2], &[0x30, 0x82]);
            assert_eq!(&p8[4..7], &[0x02, 0x01, 0x00]);
            assert_eq!(
                &p8[7..20],
                &[0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, kem_alg(spec).unwrap().1]
            );
            assert_eq!(p8.len(), 20 + 4 + 4 + dk_len);
            let back = kem_dk_from_pkcs8(spec, &p8).unwrap();
            assert_eq!(back.as_slice(), dk.as_slice());
            // The key inside decapsulates what its public key encapsulated.
            let (ct, secret) = encapsulate(spec, &spki).unwrap();
            let loaded = load_kem(spec, &back).unwrap().unwrap();
            assert_eq!(decapsulate_with(&loaded, &ct).unwrap().as_slice(), secret.as_slice());
            assert!(kem_dk_from_pkcs8(spec, &p8[1..]).is_err());
            assert!(kem_pkcs8(spec, &dk[1..]).is_err());
        }
    }

    #[test]
    fn kem_round_trip() {
        for spec in [KeySpec::MlKem512, KeySpec::MlKem768, KeySpec::MlKem1024] {
            let (private, public) = generate(spec).unwrap().unwrap();
            let dk = load_kem(spec, &private).unwrap().unwrap();
            let (ct, secret) = encapsulate(spec, &public).unwrap();
            assert_eq!(*decapsulate_with(&dk, &ct).unwrap(), *secret);
            let mut bad = ct.clone();
            bad[0] ^= 1;
            assert_ne!(*decapsulate_with(&dk, &bad).unwrap(), *secret);
            assert!(decapsulate_with(&dk, &ct[1..]).is_err());
            assert!(kem_raw_public_key(KeySpec::MlKem512, &public).is_err() == (spec != KeySpec::MlKem512));
        }
    }
}
