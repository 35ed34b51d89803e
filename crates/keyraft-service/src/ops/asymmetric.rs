//! What the asymmetric operations share: which usages a key spec allows at CreateKey, generating
//! and wrapping a key pair, opening a private key, and the key-usage checks of Sign, Verify,
//! GetPublicKey and RSA encryption.

use std::sync::Arc;

use keyraft_core::algorithms::{is_asymmetric, EncryptionAlgorithm, SigningAlgorithm};
use keyraft_core::{KeyId, KeyRecord, KeySpec, KeyUsage, WrappedMaterial};
use keyraft_crypto::asymmetric::LoadedKey;
use keyraft_crypto::CryptoError;

use crate::error::KmsError;
use crate::kms::Kms;

/// The specs keyraft generates key pairs for (aws-lc-rs), for KMS keys and data key pairs alike.
pub(crate) fn supported(spec: KeySpec) -> bool {
    matches!(
        spec,
        KeySpec::Rsa2048
            | KeySpec::Rsa3072
            | KeySpec::Rsa4096
            | KeySpec::EccNistP256
            | KeySpec::EccNistP384
            | KeySpec::EccNistP521
            | KeySpec::EccSecgP256k1
            | KeySpec::EccNistEdwards25519
    )
}

/// The key usage of a new key of `spec`: `requested`, or AWS's default ENCRYPT_DECRYPT (which only
/// symmetric and RSA keys accept). Unsupported specs and usages are UnsupportedOperation, usages
/// AWS never allows for the spec are ValidationException.
pub(crate) fn create_usage(spec: KeySpec, requested: Option<KeyUsage>) -> Result<KeyUsage, KmsError> {
    let usage = requested.unwrap_or(KeyUsage::EncryptDecrypt);
    let pq = keyraft_crypto::pq::is_ml_dsa(spec) || keyraft_crypto::pq::is_ml_kem(spec);
    if spec != KeySpec::SymmetricDefault && !supported(spec) && !keyraft_core::algorithms::is_hmac(spec) && !pq {
        return Err(KmsError::Unsupported(format!("KeySpec {spec} is not supported by this keyraft version")));
    }
    let allowed: &[KeyUsage] = match spec {
        KeySpec::SymmetricDefault => &[KeyUsage::EncryptDecrypt],
        KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => &[KeyUsage::GenerateVerifyMac],
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => &[KeyUsage::EncryptDecrypt, KeyUsage::SignVerify],
        KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521 => {
            &[KeyUsage::SignVerify, KeyUsage::KeyAgreement]
        }
        KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024 => &[KeyUsage::EncapsulateDecapsulate],
        _ => &[KeyUsage::SignVerify],
    };
    if !allowed.contains(&usage) {
        return Err(KmsError::Validation(format!("KeyUsage {usage} is not compatible with KeySpec {spec}")));
    }
    Ok(usage)
}

fn internal(e: CryptoError) -> KmsError {
    KmsError::Internal(format!("asymmetric key operation failed: {e}"))
}

impl Kms {
    /// Generates a key pair of `spec` for key `id` and returns it wrapped (version 1), with the
    /// public key in the clear. The private key is zeroized when this returns.
    pub(crate) fn generate_key_pair(&self, id: &KeyId, spec: KeySpec) -> Result<WrappedMaterial, KmsError> {
        debug_assert!(is_asymmetric(spec));
        let kp = keyraft_crypto::asymmetric::generate(spec).map_err(internal)?;
        let wrapped =
            keyraft_crypto::asymmetric::wrap_private_key(self.root(), id.as_str(), 1, &kp.private, &mut self.rng());
        Ok(WrappedMaterial { version: 1, created_ms: 0, wrapped, public_key: Some(kp.public_key) })
    }

    /// The parsed private key of an asymmetric key's current version, unwrapped and parsed once
    /// per node (versions are immutable; a deleted key is refused before this is called).
    pub(crate) fn private_key(&self, k: &KeyRecord) -> Result<Arc<LoadedKey>, KmsError> {
        let cache_key = (k.id.clone(), k.current_version);
        if let Some(key) = self.private_keys.read().ok().and_then(|c| c.get(&cache_key).cloned()) {
            return Ok(key);
        }
        let m = k
            .material(k.current_version)
            .ok_or_else(|| KmsError::Internal(format!("{} has no key material", k.arn())))?;
        let private = keyraft_crypto::asymmetric::unwrap_private_key(self.root(), k.id.as_str(), m.version, &m.wrapped)
            .map_err(|e| KmsError::Internal(format!("cannot open key material: {e}")))?;
        let key = Arc::new(LoadedKey::load(k.spec, &private).map_err(internal)?);
        if let Ok(mut c) = self.private_keys.write() {
            c.insert(cache_key, key.clone());
        }
        Ok(key)
    }
}

/// The public key (DER SubjectPublicKeyInfo) of an asymmetric key.
pub(crate) fn public_key(k: &KeyRecord) -> Result<&[u8], KmsError> {
    k.material(k.current_version)
        .and_then(|m| m.public_key.as_deref())
        .ok_or_else(|| KmsError::Internal(format!("{} has no public key", k.arn())))
}

fn wrong_usage(k: &KeyRecord, operation: &str) -> KmsError {
    KmsError::InvalidKeyUsage(format!("{} key usage is {} which is not valid for {operation}.", k.arn(), k.usage))
}

/// Sign and Verify: an enabled SIGN_VERIFY key and a signing algorithm of its spec.
pub(crate) fn check_signing(k: &KeyRecord, alg: SigningAlgorithm, operation: &str) -> Result<(), KmsError> {
    keyraft_core::lifecycle::check_crypto(k)?;
    if k.usage != KeyUsage::SignVerify {
        return Err(wrong_usage(k, operation));
    }
    if !keyraft_core::algorithms::signing_algorithms(k.spec, k.usage).contains(&alg) {
        return Err(KmsError::InvalidKeyUsage(format!("Algorithm {alg} is incompatible with key spec {}.", k.spec)));
    }
    Ok(())
}

/// Encrypt, Decrypt and ReEncrypt with an RSA key: an enabled ENCRYPT_DECRYPT key and an
/// encryption algorithm of its spec.
pub(crate) fn check_rsa_encryption(k: &KeyRecord, alg: EncryptionAlgorithm, operation: &str) -> Result<(), KmsError> {
    keyraft_core::lifecycle::check_crypto(k)?;
    if k.usage != KeyUsage::EncryptDecrypt {
        return Err(wrong_usage(k, operation));
    }
    if !keyraft_core::algorithms::encryption_algorithms(k.spec, k.usage).contains(&alg) {
        return Err(KmsError::InvalidKeyUsage(format!("Algorithm {alg} is incompatible with key spec {}.", k.spec)));
    }
    Ok(())
}

/// Maps a crypto failure of Sign/Verify to the service's errors.
pub(crate) fn sign_error(e: CryptoError, alg: SigningAlgorithm) -> KmsError {
    match e {
        CryptoError::Length { expected } => KmsError::Validation(format!(
            "Digest is invalid length for algorithm {alg}: a {alg} digest is {expected} bytes."
        )),
        CryptoError::Unsupported(m) => KmsError::Unsupported(m),
        other => internal(other),
    }
}
