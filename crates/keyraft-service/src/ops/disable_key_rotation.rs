//! DisableKeyRotation.

use keyraft_core::{Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

impl Kms {
    pub async fn disable_key_rotation(&self, caller: &Caller, key: &KeyRef) -> Result<(), KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key, Access::new("kms:DisableKeyRotation")).await?;
        self.propose(Command::SetRotation { key: k.id.clone(), period_days: None }).await?;
        self.await_shared_change(&k).await
    }
}
