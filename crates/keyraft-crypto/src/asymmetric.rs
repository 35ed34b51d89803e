//! Asymmetric keys (RSA, NIST/SECG ECDSA, Ed25519) on aws-lc-rs: key-pair generation, Sign and
//! Verify (RAW messages and precomputed digests), RSA-OAEP encryption.
//!
//! The private key exists only as PKCS#8 DER inside [`PrivateKey`] (zeroized on drop, no
//! `Debug`/`Clone`), is stored wrapped under the root key in wrap format v2, and the public key is
//! DER SubjectPublicKeyInfo, exactly what AWS's GetPublicKey returns. ECDSA signatures are DER
//! (`ECDSA-Sig-Value`), as AWS returns them; RSA-PSS uses a salt as long as the digest.
//!
//! aws-lc-rs draws its own randomness (key generation, PSS salts, ECDSA nonces, OAEP seeds) from
//! AWS-LC's DRBG; it cannot take the injected RNG.
//!
//! Ed25519ph (`ED25519_PH_SHA_512`, over a SHA-512 digest) goes through `ed25519ph` and ML-DSA
//! over an external μ through `external_mu` (AWS-LC directly: aws-lc-rs 1.19 has no API for
//! either); plain Ed25519 over a digest does not exist.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeySize, OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _};
use keyraft_core::algorithms::{EncryptionAlgorithm, MessageType, SigningAlgorithm};
use keyraft_core::KeySpec;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::secret::{Plaintext, RootKey};

/// An asymmetric private key: PKCS#8 DER, zeroized on drop.
pub struct PrivateKey(Zeroizing<Vec<u8>>);

impl PrivateKey {
    pub(crate) fn der(&self) -> &[u8] {
        &self.0
    }

    /// The PKCS#8 bytes, still zeroized on drop: for GenerateDataKeyPair, whose caller receives
    /// the private key.
    pub fn into_pkcs8(self) -> Zeroizing<Vec<u8>> {
        self.0
    }

    /// The PKCS#8 bytes, for tests that scan disks for generated secrets.
    pub fn expose_for_test(&self) -> &[u8] {
        &self.0
    }
}

/// A freshly generated key pair.
pub struct GeneratedKeyPair {
    pub private: PrivateKey,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
}

fn lc<T, E>(r: Result<T, E>) -> Result<T, CryptoError> {
    r.map_err(|_| CryptoError::Asymmetric)
}

fn unsupported(what: impl std::fmt::Display) -> CryptoError {
    CryptoError::Unsupported(what.to_string())
}

fn rsa_size(spec: KeySpec) -> Option<KeySize> {
    match spec {
        KeySpec::Rsa2048 => Some(KeySize::Rsa2048),
        KeySpec::Rsa3072 => Some(KeySize::Rsa3072),
        KeySpec::Rsa4096 => Some(KeySize::Rsa4096),
        _ => None,
    }
}

/// The ECDSA signing algorithm of a curve; AWS pairs each curve with one hash.
fn ecdsa_signing(spec: KeySpec) -> Option<&'static EcdsaSigningAlgorithm> {
    match spec {
        KeySpec::EccNistP256 => Some(&sig::ECDSA_P256_SHA256_ASN1_SIGNING),
        KeySpec::EccNistP384 => Some(&sig::ECDSA_P384_SHA384_ASN1_SIGNING),
        KeySpec::EccNistP521 => Some(&sig::ECDSA_P521_SHA512_ASN1_SIGNING),
        KeySpec::EccSecgP256k1 => Some(&sig::ECDSA_P256K1_SHA256_ASN1_SIGNING),
        _ => None,
    }
}

impl GeneratedKeyPair {
    /// A pair from aws-lc-rs's DER encodings: the PKCS#8 (copied into zeroized memory) and the
    /// SubjectPublicKeyInfo.
    fn from_der(pkcs8: &[u8], public_key: &[u8]) -> Self {
        GeneratedKeyPair { private: PrivateKey(Zeroizing::new(pkcs8.to_vec())), public_key: public_key.to_vec() }
    }
}

/// Generates a key pair of `spec`.
pub fn generate(spec: KeySpec) -> Result<GeneratedKeyPair, CryptoError> {
    if let Some(size) = rsa_size(spec) {
        let kp = lc(aws_lc_rs::rsa::KeyPair::generate(size))?;
        let der: Pkcs8V1Der = lc(kp.as_der())?;
        let public: PublicKeyX509Der = lc(kp.public_key().as_der())?;
        return Ok(GeneratedKeyPair::from_der(der.as_ref(), public.as_ref()));
    }
    if let Some(alg) = ecdsa_signing(spec) {
        let kp = lc(EcdsaKeyPair::generate(alg))?;
        let doc = lc(kp.to_pkcs8v1())?;
        let public: PublicKeyX509Der = lc(kp.public_key().as_der())?;
        return Ok(GeneratedKeyPair::from_der(doc.as_ref(), public.as_ref()));
    }
    if spec == KeySpec::EccNistEdwards25519 {
        let kp = lc(Ed25519KeyPair::generate())?;
        let doc = lc(kp.to_pkcs8v1())?;
        let public: PublicKeyX509Der = lc(kp.public_key().as_der())?;
        return Ok(GeneratedKeyPair::from_der(doc.as_ref(), public.as_ref()));
    }
    if let Some((private, public_key)) = crate::pq::generate(spec)? {
        return Ok(GeneratedKeyPair { private: PrivateKey(private), public_key });
    }
    Err(unsupported(format_args!("KeySpec {spec} is not supported")))
}

/// Whether [`import`] takes private keys of `spec`: RSA and the NIST/SECG ECDSA curves, the
/// specs AWS documents for imported asymmetric key material.
pub fn importable(spec: KeySpec) -> bool {
    rsa_size(spec).is_some() || ecdsa_signing(spec).is_some()
}

/// Imported key material (BYOK): parses a DER PKCS#8 `PrivateKeyInfo` as a private key of `spec`
/// (RSA of exactly the spec's modulus size, or EC on exactly the spec's curve, checked by
/// AWS-LC), and returns it re-encoded by aws-lc-rs — the same PKCS#8 v1 form a generated key
/// has — with its DER SubjectPublicKeyInfo. Anything else: [`CryptoError::Asymmetric`].
pub fn import(spec: KeySpec, pkcs8: &[u8]) -> Result<GeneratedKeyPair, CryptoError> {
    if let Some(size) = rsa_size(spec) {
        let kp = lc(aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8))?;
        let bits = match size {
            KeySize::Rsa2048 => 2048,
            KeySize::Rsa3072 => 3072,
            _ => 4096,
        };
        if kp.public_modulus_len() * 8 != bits {
            return Err(CryptoError::Asymmetric);
        }
        let der: Pkcs8V1Der = lc(kp.as_der())?;
        let public: PublicKeyX509Der = lc(kp.public_key().as_der())?;
        return Ok(GeneratedKeyPair::from_der(der.as_ref(), public.as_ref()));
    }
    if let Some(alg) = ecdsa_signing(spec) {
        let kp = lc(EcdsaKeyPair::from_pkcs8(alg, pkcs8))?;
        let doc = lc(kp.to_pkcs8v1())?;
        let public: PublicKeyX509Der = lc(kp.public_key().as_der())?;
        return Ok(GeneratedKeyPair::from_der(doc.as_ref(), public.as_ref()));
    }
    Err(unsupported(format_args!("Import of KeySpec {spec} key material is not supported")))
}

/// Wraps a private key under the root key (wrap format v2).
pub fn wrap_private_key(
    root: &RootKey,
    key_id: &str,
    version: u32,
    key: &PrivateKey,
    rng: &mut impl CryptoRngCore,
) -> Vec<u8> {
    crate::wrap::wrap_bytes(root, key_id, version, key.der(), rng)
}

/// Opens a private key wrapped by [`wrap_private_key`].
pub fn unwrap_private_key(
    root: &RootKey,
    key_id: &str,
    version: u32,
    wrapped: &[u8],
) -> Result<PrivateKey, CryptoError> {
    Ok(PrivateKey(crate::wrap::unwrap_bytes(root, key_id, version, wrapped)?))
}

/// A private key parsed once for repeated use (parsing costs more than an ECDSA signature).
/// Holds aws-lc-rs key objects, which AWS-LC cleanses when it frees them; no `Debug`/`Clone`.
pub struct LoadedKey {
    spec: KeySpec,
    inner: Loaded,
}

enum Loaded {
    Rsa { sign: aws_lc_rs::rsa::KeyPair, decrypt: OaepPrivateDecryptingKey },
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    MlDsa(sig::PqdsaKeyPair),
    MlKem(aws_lc_rs::kem::DecapsulationKey),
}

impl LoadedKey {
    /// Parses the PKCS#8 private key of a key of `spec`.
    pub fn load(spec: KeySpec, key: &PrivateKey) -> Result<LoadedKey, CryptoError> {
        let inner = if rsa_size(spec).is_some() {
            Loaded::Rsa {
                sign: lc(aws_lc_rs::rsa::KeyPair::from_pkcs8(key.der()))?,
                decrypt: lc(OaepPrivateDecryptingKey::new(lc(PrivateDecryptingKey::from_pkcs8(key.der()))?))?,
            }
        } else if let Some(alg) = ecdsa_signing(spec) {
            Loaded::Ecdsa(lc(EcdsaKeyPair::from_pkcs8(alg, key.der()))?)
        } else if spec == KeySpec::EccNistEdwards25519 {
            Loaded::Ed25519(lc(Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.der()))?)
        } else if let Some(kp) = crate::pq::load_dsa(spec, key.der())? {
            Loaded::MlDsa(kp)
        } else if let Some(dk) = crate::pq::load_kem(spec, key.der())? {
            Loaded::MlKem(dk)
        } else {
            return Err(unsupported(format_args!("KeySpec {spec} is not supported")));
        };
        Ok(LoadedKey { spec, inner })
    }

    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// ML-KEM Decapsulate (see [`crate::pq`]).
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match &self.inner {
            Loaded::MlKem(dk) => crate::pq::decapsulate_with(dk, ciphertext),
            _ => Err(unsupported(format_args!("KeySpec {} is not ML-KEM", self.spec))),
        }
    }
}

fn digest_alg(alg: SigningAlgorithm) -> &'static digest::Algorithm {
    match alg.digest_len() {
        32 => &digest::SHA256,
        48 => &digest::SHA384,
        _ => &digest::SHA512,
    }
}

fn rsa_encoding(alg: SigningAlgorithm) -> Option<&'static sig::RsaSignatureEncoding> {
    use SigningAlgorithm::*;
    Some(match alg {
        RsassaPssSha256 => &sig::RSA_PSS_SHA256,
        RsassaPssSha384 => &sig::RSA_PSS_SHA384,
        RsassaPssSha512 => &sig::RSA_PSS_SHA512,
        RsassaPkcs1V15Sha256 => &sig::RSA_PKCS1_SHA256,
        RsassaPkcs1V15Sha384 => &sig::RSA_PKCS1_SHA384,
        RsassaPkcs1V15Sha512 => &sig::RSA_PKCS1_SHA512,
        _ => return None,
    })
}

fn rsa_params(alg: SigningAlgorithm) -> Option<&'static sig::RsaParameters> {
    use SigningAlgorithm::*;
    Some(match alg {
        RsassaPssSha256 => &sig::RSA_PSS_2048_8192_SHA256,
        RsassaPssSha384 => &sig::RSA_PSS_2048_8192_SHA384,
        RsassaPssSha512 => &sig::RSA_PSS_2048_8192_SHA512,
        RsassaPkcs1V15Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        RsassaPkcs1V15Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        RsassaPkcs1V15Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

fn ecdsa_verification(spec: KeySpec) -> Option<&'static sig::EcdsaVerificationAlgorithm> {
    match spec {
        KeySpec::EccNistP256 => Some(&sig::ECDSA_P256_SHA256_ASN1),
        KeySpec::EccNistP384 => Some(&sig::ECDSA_P384_SHA384_ASN1),
        KeySpec::EccNistP521 => Some(&sig::ECDSA_P521_SHA512_ASN1),
        KeySpec::EccSecgP256k1 => Some(&sig::ECDSA_P256K1_SHA256_ASN1),
        _ => None,
    }
}

/// Whether `alg` is one this module can do for `spec` (the AWS pairing, minus Ed25519ph).
fn check_pair(spec: KeySpec, alg: SigningAlgorithm) -> Result<(), CryptoError> {
    let ok = match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => rsa_encoding(alg).is_some(),
        KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => alg == SigningAlgorithm::EcdsaSha256,
        KeySpec::EccNistP384 => alg == SigningAlgorithm::EcdsaSha384,
        KeySpec::EccNistP521 => alg == SigningAlgorithm::EcdsaSha512,
        KeySpec::EccNistEdwards25519 => {
            matches!(alg, SigningAlgorithm::Ed25519Sha512 | SigningAlgorithm::Ed25519PhSha512)
        }
        KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => alg == SigningAlgorithm::MlDsaShake256,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(unsupported(format_args!("{alg} with KeySpec {spec} is not supported")))
    }
}

/// The message as a digest (for `MessageType` DIGEST), or `None` for RAW.
fn as_digest(alg: SigningAlgorithm, message_type: MessageType, message: &[u8]) -> Result<Option<Digest>, CryptoError> {
    match message_type {
        MessageType::Raw => Ok(None),
        MessageType::Digest => Ok(Some(
            Digest::import_less_safe(message, digest_alg(alg))
                .map_err(|_| CryptoError::Length { expected: alg.digest_len() })?,
        )),
        MessageType::ExternalMu => Err(unsupported("MessageType EXTERNAL_MU is only for ML-DSA keys")),
    }
}

/// Signs `message` (RAW) or a precomputed digest (DIGEST).
pub fn sign(
    key: &LoadedKey,
    alg: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    check_pair(key.spec, alg)?;
    if let Loaded::Ed25519(kp) = &key.inner {
        return match (alg, message_type) {
            (SigningAlgorithm::Ed25519Sha512, MessageType::Raw) => Ok(kp.sign(message).as_ref().to_vec()),
            (SigningAlgorithm::Ed25519PhSha512, MessageType::Digest) => crate::ed25519ph::sign_digest(kp, message),
            _ => Err(unsupported(format_args!("{alg} with MessageType {message_type} is not supported"))),
        };
    }
    if let Loaded::MlDsa(kp) = &key.inner {
        return match message_type {
            MessageType::Raw => crate::pq::sign_dsa(kp, message),
            // AWS-LC takes the key as PKCS#8 here (the aws-lc-rs buffer zeroizes on drop).
            MessageType::ExternalMu => crate::external_mu::sign(lc(kp.to_pkcs8v1())?.as_ref(), message),
            MessageType::Digest => Err(unsupported("ML_DSA_SHAKE_256 with MessageType DIGEST is not supported")),
        };
    }
    let digest = as_digest(alg, message_type, message)?;
    match (&key.inner, rsa_encoding(alg)) {
        (Loaded::Rsa { sign: kp, .. }, Some(encoding)) => {
            let mut out = vec![0u8; kp.public_modulus_len()];
            match &digest {
                None => lc(kp.sign(encoding, &SystemRandom::new(), message, &mut out))?,
                Some(d) => lc(kp.sign_digest(encoding, d, &mut out))?,
            }
            Ok(out)
        }
        (Loaded::Ecdsa(kp), None) => {
            let signature = match &digest {
                None => lc(kp.sign(&SystemRandom::new(), message))?,
                Some(d) => lc(kp.sign_digest(d))?,
            };
            Ok(signature.as_ref().to_vec())
        }
        _ => Err(unsupported(format_args!("{alg} with KeySpec {} is not supported", key.spec))),
    }
}

/// Verifies a signature with the public key (DER SubjectPublicKeyInfo). `Ok(false)`: the
/// signature does not match.
pub fn verify(
    spec: KeySpec,
    public_key: &[u8],
    alg: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, CryptoError> {
    check_pair(spec, alg)?;
    if spec == KeySpec::EccNistEdwards25519 {
        return match (alg, message_type) {
            (SigningAlgorithm::Ed25519Sha512, MessageType::Raw) => {
                Ok(sig::UnparsedPublicKey::new(&sig::ED25519, public_key).verify(message, signature).is_ok())
            }
            (SigningAlgorithm::Ed25519PhSha512, MessageType::Digest) => {
                crate::ed25519ph::verify_digest(public_key, message, signature)
            }
            _ => Err(unsupported(format_args!("{alg} with MessageType {message_type} is not supported"))),
        };
    }
    if crate::pq::is_ml_dsa(spec) {
        return match message_type {
            MessageType::Raw => crate::pq::verify_dsa(spec, public_key, message, signature),
            MessageType::ExternalMu => crate::external_mu::verify(public_key, message, signature),
            MessageType::Digest => Err(unsupported("ML_DSA_SHAKE_256 with MessageType DIGEST is not supported")),
        };
    }
    let digest = as_digest(alg, message_type, message)?;
    let algorithm: &'static dyn sig::VerificationAlgorithm = match (rsa_params(alg), ecdsa_verification(spec)) {
        (Some(p), _) => p,
        (None, Some(e)) => e,
        (None, None) => return Err(unsupported(format_args!("KeySpec {spec} cannot verify"))),
    };
    let key = sig::UnparsedPublicKey::new(algorithm, public_key);
    Ok(match &digest {
        None => key.verify(message, signature).is_ok(),
        Some(d) => key.verify_digest(d, signature).is_ok(),
    })
}

fn oaep(alg: EncryptionAlgorithm) -> Result<&'static OaepAlgorithm, CryptoError> {
    match alg {
        EncryptionAlgorithm::RsaesOaepSha1 => Ok(&OAEP_SHA1_MGF1SHA1),
        EncryptionAlgorithm::RsaesOaepSha256 => Ok(&OAEP_SHA256_MGF1SHA256),
        other => Err(unsupported(format_args!("{other} is not an RSA encryption algorithm"))),
    }
}

/// The largest plaintext RSA-OAEP with `alg` takes under this public key (AWS: RSA_2048
/// OAEP-SHA-1 214 bytes, OAEP-SHA-256 190 bytes, …).
pub fn rsa_max_plaintext(public_key: &[u8], alg: EncryptionAlgorithm) -> Result<usize, CryptoError> {
    let key = lc(OaepPublicEncryptingKey::new(lc(PublicEncryptingKey::from_der(public_key))?))?;
    Ok(key.max_plaintext_size(oaep(alg)?))
}

/// RSA-OAEP encryption (MGF1 with the same hash, empty label): standard, so any RSA-OAEP
/// implementation given the public key can do the same.
pub fn rsa_encrypt(public_key: &[u8], alg: EncryptionAlgorithm, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = lc(OaepPublicEncryptingKey::new(lc(PublicEncryptingKey::from_der(public_key))?))?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = lc(key.encrypt(oaep(alg)?, plaintext, &mut out, None))?.len();
    out.truncate(n);
    Ok(out)
}

/// RSA-OAEP decryption. Every failure is [`CryptoError::Decrypt`], with no detail.
pub fn rsa_decrypt(key: &LoadedKey, alg: EncryptionAlgorithm, ciphertext: &[u8]) -> Result<Plaintext, CryptoError> {
    let alg = oaep(alg)?;
    let Loaded::Rsa { decrypt, .. } = &key.inner else {
        return Err(unsupported(format_args!("KeySpec {} cannot decrypt", key.spec)));
    };
    let mut out = Zeroizing::new(vec![0u8; decrypt.min_output_size()]);
    let n = decrypt.decrypt(alg, ciphertext, &mut out, None).map_err(|_| CryptoError::Decrypt)?.len();
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_every_spec() {
        use SigningAlgorithm::*;
        let cases = [
            (KeySpec::EccNistP256, EcdsaSha256),
            (KeySpec::EccNistP384, EcdsaSha384),
            (KeySpec::EccNistP521, EcdsaSha512),
            (KeySpec::EccSecgP256k1, EcdsaSha256),
            (KeySpec::Rsa2048, RsassaPssSha384),
            (KeySpec::Rsa2048, RsassaPkcs1V15Sha512),
        ];
        for (spec, alg) in cases {
            let kp = generate(spec).unwrap();
            let key = LoadedKey::load(spec, &kp.private).unwrap();
            let s = sign(&key, alg, MessageType::Raw, b"hello").unwrap();
            assert!(verify(spec, &kp.public_key, alg, MessageType::Raw, b"hello", &s).unwrap(), "{spec} {alg}");
            assert!(!verify(spec, &kp.public_key, alg, MessageType::Raw, b"hellO", &s).unwrap());
            let d = digest::digest(digest_alg(alg), b"hello");
            let s2 = sign(&key, alg, MessageType::Digest, d.as_ref()).unwrap();
            assert!(verify(spec, &kp.public_key, alg, MessageType::Raw, b"hello", &s2).unwrap(), "{spec} {alg}");
            assert!(verify(spec, &kp.public_key, alg, MessageType::Digest, d.as_ref(), &s).unwrap());
            assert_eq!(
                sign(&key, alg, MessageType::Digest, &[0; 7]).err(),
                Some(CryptoError::Length { expected: alg.digest_len() })
            );
        }
        let kp = generate(KeySpec::EccNistEdwards25519).unwrap();
        let key = LoadedKey::load(KeySpec::EccNistEdwards25519, &kp.private).unwrap();
        let s = sign(&key, Ed25519Sha512, MessageType::Raw, b"m").unwrap();
        assert!(
            verify(KeySpec::EccNistEdwards25519, &kp.public_key, Ed25519Sha512, MessageType::Raw, b"m", &s).unwrap()
        );
        // Ed25519ph over a SHA-512 digest; not over RAW, and plain Ed25519 not over a digest.
        let d = digest::digest(&digest::SHA512, b"m");
        let ph = sign(&key, Ed25519PhSha512, MessageType::Digest, d.as_ref()).unwrap();
        assert_ne!(ph, s);
        let ed = KeySpec::EccNistEdwards25519;
        assert!(verify(ed, &kp.public_key, Ed25519PhSha512, MessageType::Digest, d.as_ref(), &ph).unwrap());
        assert!(!verify(ed, &kp.public_key, Ed25519PhSha512, MessageType::Digest, d.as_ref(), &s).unwrap());
        assert!(!verify(ed, &kp.public_key, Ed25519Sha512, MessageType::Raw, b"m", &ph).unwrap());
        assert!(matches!(sign(&key, Ed25519PhSha512, MessageType::Raw, b"m"), Err(CryptoError::Unsupported(_))));
        assert!(matches!(sign(&key, Ed25519Sha512, MessageType::Digest, d.as_ref()), Err(CryptoError::Unsupported(_))));
    }

    #[test]
    fn rsa_oaep_round_trip_and_limits() {
        let kp = generate(KeySpec::Rsa2048).unwrap();
        let key = LoadedKey::load(KeySpec::Rsa2048, &kp.private).unwrap();
        assert_eq!(rsa_max_plaintext(&kp.public_key, EncryptionAlgorithm::RsaesOaepSha1).unwrap(), 214);
        assert_eq!(rsa_max_plaintext(&kp.public_key, EncryptionAlgorithm::RsaesOaepSha256).unwrap(), 190);
        for alg in [EncryptionAlgorithm::RsaesOaepSha1, EncryptionAlgorithm::RsaesOaepSha256] {
            let ct = rsa_encrypt(&kp.public_key, alg, b"secret").unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(rsa_decrypt(&key, alg, &ct).unwrap().as_slice(), b"secret");
        }
        let ct = rsa_encrypt(&kp.public_key, EncryptionAlgorithm::RsaesOaepSha1, b"secret").unwrap();
        assert_eq!(rsa_decrypt(&key, EncryptionAlgorithm::RsaesOaepSha256, &ct).err(), Some(CryptoError::Decrypt));
    }

    #[test]
    fn import_checks_the_spec_and_matches_generation() {
        for spec in [KeySpec::EccNistP256, KeySpec::EccNistP384, KeySpec::EccSecgP256k1, KeySpec::Rsa2048] {
            let kp = generate(spec).unwrap();
            let imported = import(spec, kp.private.der()).unwrap();
            assert_eq!(imported.public_key, kp.public_key, "{spec}");
            assert_eq!(imported.private.der(), kp.private.der(), "{spec}: re-encoded as generated");
            LoadedKey::load(spec, &imported.private).unwrap();
        }
        let p384 = generate(KeySpec::EccNistP384).unwrap();
        let rsa = generate(KeySpec::Rsa2048).unwrap();
        let p256 = generate(KeySpec::EccNistP256).unwrap();
        assert!(import(KeySpec::EccNistP256, p384.private.der()).is_err(), "other curve");
        assert!(import(KeySpec::EccSecgP256k1, p256.private.der()).is_err(), "P-256 is not secp256k1");
        assert!(import(KeySpec::EccNistP256, rsa.private.der()).is_err(), "RSA into ECC");
        assert!(import(KeySpec::Rsa3072, rsa.private.der()).is_err(), "RSA of another size");
        assert!(import(KeySpec::Rsa2048, p256.private.der()).is_err(), "ECC into RSA");
        assert!(import(KeySpec::Rsa2048, &[0x30, 0x00]).is_err());
        assert!(matches!(import(KeySpec::EccNistEdwards25519, &[]), Err(CryptoError::Unsupported(_))));
        assert!(importable(KeySpec::EccNistP521) && !importable(KeySpec::EccNistEdwards25519));
    }
}
