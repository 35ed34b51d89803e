//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: a fresh asymmetric key pair for
//! use outside KMS. The public key (DER SubjectPublicKeyInfo) is returned in the clear, the private
//! key (PKCS#8 DER) encrypted under a symmetric KMS key exactly as Encrypt does (a keyraft
//! ciphertext blob, the encryption context as AAD, so Decrypt of it returns the PKCS#8), and in
//! plaintext unless asked not to. Nothing is stored.

use keyraft_core::{EncryptionContext, KeyArn, KeyRef, KeySpec};
use keyraft_crypto::Plaintext;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::encrypt::check_symmetric;

pub struct DataKeyPairOutput {
    /// The PKCS#8 private key as a keyraft ciphertext blob under the KMS key.
    pub private_key_ciphertext: Vec<u8>,
    /// The PKCS#8 private key, zeroized on drop; `None` for GenerateDataKeyPairWithoutPlaintext.
    pub private_key_plaintext: Option<Plaintext>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    pub key: KeyArn,
    pub spec: KeySpec,
}

/// The `DataKeyPairSpec`s keyraft generates (aws-lc-rs): RSA, ECC, Ed25519 and ML-KEM (its
/// PKCS#8 built by `keyraft_crypto::pq::kem_pkcs8`). SM2 is China-regions-only in AWS and answers
/// UnsupportedOperationException.
pub fn supported_data_key_pair_spec(spec: KeySpec) -> bool {
    crate::ops::asymmetric::supported(spec) || keyraft_crypto::pq::is_ml_kem(spec)
}

impl Kms {
    /// `spec` is a `DataKeyPairSpec` (the edge has already refused names outside AWS's enum).
    pub async fn generate_data_key_pair(
        &self,
        caller: &Caller,
        key: &KeyRef,
        spec: KeySpec,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<DataKeyPairOutput, KmsError> {
        let (operation, action) = if with_plaintext {
            ("GenerateDataKeyPair", "kms:GenerateDataKeyPair")
        } else {
            ("GenerateDataKeyPairWithoutPlaintext", "kms:GenerateDataKeyPairWithoutPlaintext")
        };
        let k = self
            .resolve(
                caller,
                key,
                Access::new(action).encryption_context(context).with("kms:DataKeyPairSpec", spec.as_aws()),
            )
            .await?;
        check_symmetric(&k, operation)?;
        if !supported_data_key_pair_spec(spec) {
            return Err(KmsError::Unsupported(format!("KeyPairSpec {spec} is not supported by this keyraft version")));
        }
        // RSA-4096 generation takes up to seconds of CPU: keep it off the async workers.
        let pair = tokio::task::spawn_blocking(move || keyraft_crypto::asymmetric::generate(spec))
            .await
            .map_err(|e| KmsError::Internal(format!("key pair generation did not finish: {e}")))?
            .map_err(|e| KmsError::Internal(format!("key pair generation failed: {e}")))?;
        // aws-lc-rs keeps ML-KEM private keys as the raw decapsulation key: encode it as PKCS#8.
        let private = if keyraft_crypto::pq::is_ml_kem(spec) {
            keyraft_crypto::pq::kem_pkcs8(spec, &pair.private.into_pkcs8())
                .map_err(|e| KmsError::Internal(format!("ML-KEM private key encoding failed: {e}")))?
        } else {
            pair.private.into_pkcs8()
        };
        let out = self.encrypt_with(&k, &private, context)?;
        Ok(DataKeyPairOutput {
            private_key_ciphertext: out.ciphertext,
            private_key_plaintext: with_plaintext.then_some(private),
            public_key: pair.public_key,
            key: out.key,
            spec,
        })
    }
}
