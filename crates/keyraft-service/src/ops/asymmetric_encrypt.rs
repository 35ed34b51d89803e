//! Encrypt, Decrypt and ReEncrypt with RSA keys of usage ENCRYPT_DECRYPT (RSAES_OAEP_SHA_1,
//! RSAES_OAEP_SHA_256). The ciphertext is the bare RSA-OAEP ciphertext, as AWS returns it, not a
//! keyraft blob: it names no key, so Decrypt needs the KeyId. A public key from GetPublicKey
//! encrypts the same way locally. RSA keys take no encryption context (AWS binds none).

use keyraft_core::algorithms::EncryptionAlgorithm;
use keyraft_core::{EncryptionContext, KeyRecord, KeyRef};
use keyraft_crypto::Plaintext;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::asymmetric::{check_rsa_encryption, public_key};
use crate::ops::encrypt::check_symmetric;
use crate::ops::{DecryptOutput, EncryptOutput, ReEncryptOutput};

/// Whether an algorithm is one of RSA's (the edge routes those here).
pub fn is_rsa(alg: EncryptionAlgorithm) -> bool {
    matches!(alg, EncryptionAlgorithm::RsaesOaepSha1 | EncryptionAlgorithm::RsaesOaepSha256)
}

fn no_context(context: &EncryptionContext) -> Result<(), KmsError> {
    if !context.is_empty() {
        return Err(KmsError::Validation("EncryptionContext is not supported with asymmetric KMS keys.".into()));
    }
    Ok(())
}

impl Kms {
    /// Encrypt with an RSA key.
    pub async fn encrypt_asymmetric(
        &self,
        caller: &Caller,
        key: &KeyRef,
        plaintext: &[u8],
        alg: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<EncryptOutput, KmsError> {
        let k =
            self.resolve(caller, key, Access::new("kms:Encrypt").with("kms:EncryptionAlgorithm", alg.as_aws())).await?;
        self.rsa_encrypt_with(&k, plaintext, alg, context, "Encrypt")
    }

    fn rsa_encrypt_with(
        &self,
        k: &KeyRecord,
        plaintext: &[u8],
        alg: EncryptionAlgorithm,
        context: &EncryptionContext,
        operation: &str,
    ) -> Result<EncryptOutput, KmsError> {
        check_rsa_encryption(k, alg, operation)?;
        no_context(context)?;
        let public = public_key(k)?;
        let max = keyraft_crypto::asymmetric::rsa_max_plaintext(public, alg)
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        if plaintext.len() > max {
            return Err(KmsError::Validation(format!(
                "Plaintext of {} bytes is too long for {alg} with KeySpec {}: at most {max} bytes.",
                plaintext.len(),
                k.spec
            )));
        }
        let ciphertext = keyraft_crypto::asymmetric::rsa_encrypt(public, alg, plaintext)
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        Ok(EncryptOutput { ciphertext, key: k.arn() })
    }

    /// Decrypt with an RSA key; `key` is required.
    pub async fn decrypt_asymmetric(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        alg: EncryptionAlgorithm,
        context: &EncryptionContext,
        key: Option<&KeyRef>,
    ) -> Result<DecryptOutput, KmsError> {
        let (k, plaintext) = self.rsa_open(caller, ciphertext, alg, context, key, "Decrypt").await?;
        Ok(DecryptOutput { plaintext, key: k.arn() })
    }

    async fn rsa_open(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        alg: EncryptionAlgorithm,
        context: &EncryptionContext,
        key: Option<&KeyRef>,
        operation: &str,
    ) -> Result<(KeyRecord, Plaintext), KmsError> {
        let Some(key) = key else {
            return Err(KmsError::Validation(format!(
                "A KeyId is required to decrypt with encryption algorithm {alg} (asymmetric KMS keys)."
            )));
        };
        let action = if operation == "Decrypt" { "kms:Decrypt" } else { "kms:ReEncryptFrom" };
        let k = self.resolve(caller, key, Access::new(action).with("kms:EncryptionAlgorithm", alg.as_aws())).await?;
        check_rsa_encryption(&k, alg, operation)?;
        no_context(context)?;
        let private = self.private_key(&k)?;
        let plaintext = keyraft_crypto::asymmetric::rsa_decrypt(&private, alg, ciphertext)
            .map_err(|_| KmsError::InvalidCiphertext(String::new()))?;
        Ok((k, plaintext))
    }

    /// ReEncrypt where either side may be an RSA key (chosen by its encryption algorithm).
    #[allow(clippy::too_many_arguments)]
    pub async fn re_encrypt_with_algorithms(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        source_context: &EncryptionContext,
        source_key: Option<&KeyRef>,
        source_alg: EncryptionAlgorithm,
        destination_key: &KeyRef,
        destination_context: &EncryptionContext,
        destination_alg: EncryptionAlgorithm,
    ) -> Result<ReEncryptOutput, KmsError> {
        if !is_rsa(source_alg) && !is_rsa(destination_alg) {
            return self
                .re_encrypt(caller, ciphertext, source_context, source_key, destination_key, destination_context)
                .await;
        }
        let (src, plaintext) = if is_rsa(source_alg) {
            self.rsa_open(caller, ciphertext, source_alg, source_context, source_key, "ReEncrypt").await?
        } else {
            self.open(caller, ciphertext, source_context, source_key, "kms:ReEncryptFrom").await?
        };
        let dst = self
            .resolve(
                caller,
                destination_key,
                Access::crypt("kms:ReEncryptTo", destination_context, destination_alg.as_aws()),
            )
            .await?;
        let out = if is_rsa(destination_alg) {
            self.rsa_encrypt_with(&dst, &plaintext, destination_alg, destination_context, "ReEncrypt")?
        } else {
            check_symmetric(&dst, "ReEncrypt")?;
            self.encrypt_with(&dst, &plaintext, destination_context)?
        };
        Ok(ReEncryptOutput { ciphertext: out.ciphertext, source_key: src.arn(), destination_key: out.key })
    }
}
