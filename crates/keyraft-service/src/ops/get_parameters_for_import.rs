//! GetParametersForImport: a fresh RSA wrapping key pair and an import token for a key with
//! Origin EXTERNAL. The token carries the wrapping private key sealed under the region's root
//! key (keyraft-crypto `import`), so any node can take the ImportKeyMaterial and nothing is
//! written to the Raft log here.

use keyraft_core::{KeyArn, KeyRef, KeySpec};
pub use keyraft_crypto::import::WrappingAlgorithm;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

/// How long an import token and its public key are valid (AWS: 24 hours).
pub const IMPORT_TOKEN_VALIDITY_MS: u64 = 24 * 60 * 60 * 1000;

pub struct ImportParameters {
    pub key: KeyArn,
    /// Opaque; sealed under the region's root key.
    pub import_token: Vec<u8>,
    /// The wrapping public key, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    pub valid_to_ms: u64,
}

/// AWS's wrapping rules per key spec: an RSA private key is larger than RSA-OAEP carries, so it
/// needs RSA_AES_KEY_WRAP_*; an ECC_NIST_P521 private key does not fit RSAES_OAEP_* under an
/// RSA_2048 wrapping key. Everything else takes every algorithm.
pub(crate) fn check_wrapping(
    spec: KeySpec,
    algorithm: WrappingAlgorithm,
    wrapping_key_bits: u32,
) -> Result<(), KmsError> {
    let oaep = matches!(algorithm, WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256);
    let refused = match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => oaep.then_some(
            "RSA private key material must be wrapped with RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256",
        ),
        KeySpec::EccNistP521 if oaep && wrapping_key_bits == 2048 => Some(
            "ECC_NIST_P521 key material cannot be wrapped with an RSAES_OAEP wrapping algorithm and an RSA_2048 \
             wrapping key; use an RSA_AES_KEY_WRAP wrapping algorithm or a longer wrapping key",
        ),
        _ => None,
    };
    match refused {
        Some(why) => Err(KmsError::Unsupported(format!("{why} (KeySpec {spec})"))),
        None => Ok(()),
    }
}

impl Kms {
    /// `wrapping_key_bits`: 2048, 3072 or 4096 (WrappingKeySpec RSA_*).
    pub async fn get_parameters_for_import(
        &self,
        caller: &Caller,
        key: &KeyRef,
        algorithm: WrappingAlgorithm,
        wrapping_key_bits: u32,
    ) -> Result<ImportParameters, KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key, Access::new("kms:GetParametersForImport")).await?;
        keyraft_core::import::check_external(&k)?;
        keyraft_core::lifecycle::check_manage(&k)?;
        check_wrapping(k.spec, algorithm, wrapping_key_bits)?;
        // RSA key generation takes up to seconds (RSA_4096): off the async workers.
        let pair =
            tokio::task::spawn_blocking(move || keyraft_crypto::import::generate_wrapping_key(wrapping_key_bits))
                .await
                .map_err(|e| KmsError::Internal(format!("wrapping key generation failed: {e}")))?
                .map_err(|e| KmsError::Internal(format!("wrapping key generation failed: {e}")))?;
        let valid_to_ms = self.node().clock().now_ms() + IMPORT_TOKEN_VALIDITY_MS;
        let import_token = keyraft_crypto::import::seal_token(
            self.root(),
            k.id.as_str(),
            algorithm,
            valid_to_ms,
            &pair.private_pkcs8,
            &mut self.rng(),
        );
        Ok(ImportParameters { key: k.arn(), import_token, public_key: pair.public_der, valid_to_ms })
    }
}
