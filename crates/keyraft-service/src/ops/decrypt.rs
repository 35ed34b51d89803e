//! Decrypt: the ciphertext names its key and backing-key version; a given KeyId must match it
//! (IncorrectKeyException).

use keyraft_core::{EncryptionContext, KeyArn, KeyId, KeyRecord, KeyRef};
use keyraft_crypto::{CiphertextBlob, Plaintext};

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

impl Kms {
    pub async fn decrypt(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        context: &EncryptionContext,
        key: Option<&KeyRef>,
    ) -> Result<DecryptOutput, KmsError> {
        let (k, plaintext) = self.open(caller, ciphertext, context, key).await?;
        Ok(DecryptOutput { plaintext, key: k.arn() })
    }

    /// Parses, authorizes and decrypts a ciphertext; shared by Decrypt and ReEncrypt.
    pub(crate) async fn open(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        context: &EncryptionContext,
        key: Option<&KeyRef>,
    ) -> Result<(KeyRecord, Plaintext), KmsError> {
        let blob = CiphertextBlob::parse(ciphertext).map_err(|_| invalid())?;
        let blob_key = KeyId::parse(blob.key_id).map_err(|_| invalid())?;
        let region = self.region().clone();
        let k = self
            .read(|s| -> Result<KeyRecord, KmsError> {
                if let Some(given) = key {
                    let named = resolve_in(s, &region, caller, given)?;
                    if named.id != blob_key {
                        return Err(KmsError::IncorrectKey(
                            "The key ID in the request does not identify a KMS key that can perform this operation."
                                .into(),
                        ));
                    }
                }
                // A ciphertext naming a key this caller cannot see (another region's or account's,
                // or a deleted one) is simply not a valid ciphertext here.
                resolve_in(s, &region, caller, &KeyRef::Id(blob_key.clone())).map_err(|_| invalid())
            })
            .await??;
        check_symmetric(&k, "Decrypt")?;
        let material = self.material(&k, blob.version).map_err(|_| invalid())?;
        let plaintext = keyraft_crypto::decrypt(&material, &blob, &context.canonical_bytes()).map_err(|_| invalid())?;
        Ok((k, plaintext))
    }
}
