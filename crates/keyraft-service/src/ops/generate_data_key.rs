//! GenerateDataKey and GenerateDataKeyWithoutPlaintext: a random data key, returned encrypted
//! under the KMS key (and in plaintext unless asked not to).

use keyraft_core::{EncryptionContext, KeyArn, KeyRef};
use keyraft_crypto::Plaintext;
use zeroize::Zeroizing;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::encrypt::check_symmetric;

pub struct DataKeyOutput {
    pub ciphertext: Vec<u8>,
    /// `None` for GenerateDataKeyWithoutPlaintext.
    pub plaintext: Option<Plaintext>,
    pub key: KeyArn,
}

impl Kms {
    /// `bytes` is 1–1024, already derived from KeySpec/NumberOfBytes by the edge.
    pub async fn generate_data_key(
        &self,
        caller: &Caller,
        key: &KeyRef,
        bytes: usize,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<DataKeyOutput, KmsError> {
        if !(1..=1024).contains(&bytes) {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{bytes}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
            )));
        }
        let (operation, action) = if with_plaintext {
            ("GenerateDataKey", "kms:GenerateDataKey")
        } else {
            ("GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext")
        };
        let k = self.resolve(caller, key, Access::new(action).encryption_context(context)).await?;
        check_symmetric(&k, operation)?;
        let mut data_key = Zeroizing::new(vec![0u8; bytes]);
        self.fill_random(&mut data_key);
        let out = self.encrypt_with(&k, &data_key, context)?;
        Ok(DataKeyOutput { ciphertext: out.ciphertext, plaintext: with_plaintext.then_some(data_key), key: out.key })
    }
}
