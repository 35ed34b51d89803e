//! CancelKeyDeletion: the key returns to Disabled.

use keyraft_core::{Command, KeyRecord, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{applied_key, no_alias, Caller, Kms};

impl Kms {
    pub async fn cancel_key_deletion(&self, caller: &Caller, key: &KeyRef) -> Result<KeyRecord, KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key, Access::new("kms:CancelKeyDeletion")).await?;
        applied_key(self.propose(Command::CancelDeletion { key: k.id }).await?)
    }
}
