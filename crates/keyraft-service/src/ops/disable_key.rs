//! DisableKey.

use keyraft_core::{Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

impl Kms {
    pub async fn disable_key(&self, caller: &Caller, key: &KeyRef) -> Result<(), KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key, Access::new("kms:DisableKey")).await?;
        self.propose(Command::SetEnabled { key: k.id, enabled: false }).await.map(|_| ())
    }
}
