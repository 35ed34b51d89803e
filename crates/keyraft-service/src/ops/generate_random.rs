//! GenerateRandom: 1–1024 random bytes.

use keyraft_crypto::Plaintext;
use zeroize::Zeroizing;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};

impl Kms {
    pub fn generate_random(&self, caller: &Caller, bytes: usize) -> Result<Plaintext, KmsError> {
        if !(1..=1024).contains(&bytes) {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{bytes}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
            )));
        }
        self.authorize_account(caller, Access::new("kms:GenerateRandom"))?;
        let mut out = Zeroizing::new(vec![0u8; bytes]);
        self.fill_random(&mut out);
        Ok(out)
    }
}
