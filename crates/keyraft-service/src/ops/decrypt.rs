//! Decrypt: the ciphertext names its key and backing-key version; a given KeyId must match it
//! (IncorrectKeyException).

use keyraft_core::{EncryptionContext, KeyArn, KeyId, KeyRecord, KeyRef};
use keyraft_crypto::{CiphertextBlob, Plaintext};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{resolve_in, Caller, Kms};
use crate::ops::encrypt::check_symmetric;

pub struct DecryptOutput {
    pub plaintext: Plaintext,
    pub key: KeyArn,
}

fn invalid() -> KmsError {
    KmsError::InvalidCiphertext(String::new())
}

fn deleted_key(region: &keyraft_core::Region, caller: &Caller, id: &KeyId) -> KmsError {
    let arn = KeyArn { region: region.clone(), account: caller.account.clone(), key_id: id.clone() };
    KmsError::NotFound(format!("Key '{arn}' does not exist"))
}

impl Kms {
    pub async fn decrypt(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        context: &EncryptionContext,
        key: Option<&KeyRef>,
    ) -> Result<DecryptOutput, KmsError> {
        let (k, plaintext) = self.open(caller, ciphertext, context, key, "kms:Decrypt").await?;
        Ok(DecryptOutput { plaintext, key: k.arn() })
    }

    /// Parses, authorizes and decrypts a ciphertext; shared by Decrypt (`kms:Decrypt`) and
    /// ReEncrypt (`kms:ReEncryptFrom`).
    pub(crate) async fn open(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        context: &EncryptionContext,
        key: Option<&KeyRef>,
        action: &'static str,
    ) -> Result<(KeyRecord, Plaintext), KmsError> {
        let blob = CiphertextBlob::parse(ciphertext).map_err(|_| invalid())?;
        let blob_key = KeyId::parse(blob.key_id).map_err(|_| invalid())?;
        let region = self.region().clone();
        let access = Access::crypt(action, context, "SYMMETRIC_DEFAULT");
        let k = self
            .read(|s| -> Result<KeyRecord, KmsError> {
                if let Some(given) = key {
                    let named = resolve_in(s, &region, caller, given, true)?;
                    if named.id != blob_key {
                        return Err(KmsError::IncorrectKey(
                            "The key ID in the request does not identify a KMS key that can perform this operation."
                                .into(),
                        ));
                    }
                }
                // The ciphertext names its key by id; a key of another account is found the
                // same way (its key policy decides). A ciphertext naming a key this region does
                // not hold is simply not a valid ciphertext here; one naming the caller's key
                // deleted in this region answers NotFound, as AWS does.
                let k = s.keys.get(&blob_key).cloned().ok_or_else(|| {
                    match s.deleted.get(&blob_key).filter(|a| **a == caller.account) {
                        Some(_) => deleted_key(&region, caller, &blob_key),
                        None => invalid(),
                    }
                })?;
                self.authorize(s, caller, &k, key.unwrap_or(&KeyRef::Id(blob_key.clone())), &access)?;
                Ok(k)
            })
            .await??;
        check_symmetric(&k, "Decrypt")?;
        let material = self.material(&k, blob.version).map_err(|_| invalid())?;
        let plaintext = keyraft_crypto::decrypt(&material, &blob, &context.canonical_bytes()).map_err(|_| invalid())?;
        Ok((k, plaintext))
    }
}
