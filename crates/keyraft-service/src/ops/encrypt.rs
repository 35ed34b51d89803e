//! Encrypt: AES-256-GCM under the key's current backing key; the encryption context is bound as
//! AAD.

use keyraft_core::{EncryptionContext, KeyArn, KeyRecord, KeyRef, KeySpec, KeyUsage};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptOutput {
    pub ciphertext: Vec<u8>,
    pub key: KeyArn,
}

/// A key may encrypt and decrypt if it is enabled, symmetric and of usage ENCRYPT_DECRYPT.
pub(crate) fn check_symmetric(k: &KeyRecord, operation: &str) -> Result<(), KmsError> {
    keyraft_core::lifecycle::check_crypto(k)?;
    if k.usage == KeyUsage::EncryptDecrypt && k.spec != KeySpec::SymmetricDefault {
        // An RSA key without an RSA algorithm (AWS's wording).
        return Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec {}.",
            k.spec
        )));
    }
    if k.usage != KeyUsage::EncryptDecrypt || k.spec != KeySpec::SymmetricDefault {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {operation}.",
            k.arn(),
            k.usage
        )));
    }
    Ok(())
}

impl Kms {
    pub async fn encrypt(
        &self,
        caller: &Caller,
        key: &KeyRef,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<EncryptOutput, KmsError> {
        let k = self.resolve(caller, key, Access::crypt("kms:Encrypt", context, "SYMMETRIC_DEFAULT")).await?;
        check_symmetric(&k, "Encrypt")?;
        self.encrypt_with(&k, plaintext, context)
    }

    /// Encrypts under an already resolved and checked key.
    pub(crate) fn encrypt_with(
        &self,
        k: &KeyRecord,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<EncryptOutput, KmsError> {
        let material = self.material(k, k.current_version)?;
        let ciphertext = keyraft_crypto::encrypt(
            &material,
            k.id.as_str(),
            k.current_version,
            &context.canonical_bytes(),
            plaintext,
            &mut self.rng(),
        )
        .map_err(|e| KmsError::Internal(e.to_string()))?;
        Ok(EncryptOutput { ciphertext, key: k.arn() })
    }
}
