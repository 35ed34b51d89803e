//! UpdateKeyDescription.

use keyraft_core::{Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

impl Kms {
    pub async fn update_key_description(
        &self,
        caller: &Caller,
        key: &KeyRef,
        description: String,
    ) -> Result<(), KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key, Access::new("kms:UpdateKeyDescription")).await?;
        self.propose(Command::UpdateDescription { key: k.id, description }).await.map(|_| ())
    }
}
