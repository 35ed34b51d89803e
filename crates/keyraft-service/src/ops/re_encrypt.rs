//! ReEncrypt: decrypt under the source key and encrypt under the destination key, inside the
//! service (the plaintext never leaves the node).

use keyraft_core::{EncryptionContext, KeyArn, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::encrypt::check_symmetric;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReEncryptOutput {
    pub ciphertext: Vec<u8>,
    pub source_key: KeyArn,
    pub destination_key: KeyArn,
}

impl Kms {
    pub async fn re_encrypt(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        source_context: &EncryptionContext,
        source_key: Option<&KeyRef>,
        destination_key: &KeyRef,
        destination_context: &EncryptionContext,
    ) -> Result<ReEncryptOutput, KmsError> {
        let (src, plaintext) = self.open(caller, ciphertext, source_context, source_key, "kms:ReEncryptFrom").await?;
        let dst = self
            .resolve(
                caller,
                destination_key,
                Access::crypt("kms:ReEncryptTo", destination_context, "SYMMETRIC_DEFAULT"),
            )
            .await?;
        check_symmetric(&dst, "ReEncrypt")?;
        let out = self.encrypt_with(&dst, &plaintext, destination_context)?;
        Ok(ReEncryptOutput { ciphertext: out.ciphertext, source_key: src.arn(), destination_key: out.key })
    }
}
