//! DeleteAlias.

use keyraft_core::Command;

use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::create_alias::check_alias_name;

impl Kms {
    pub async fn delete_alias(&self, caller: &Caller, name: &str) -> Result<(), KmsError> {
        let alias = check_alias_name(name)?;
        let region = self.region().clone();
        let exists = self
            .read(|s| {
                s.aliases.get(&alias).is_some_and(|a| s.keys.get(&a.target).is_none_or(|k| k.account == caller.account))
            })
            .await?;
        if !exists {
            return Err(KmsError::NotFound(format!(
                "Alias {} is not found.",
                keyraft_core::ids::alias_arn(&region, &caller.account, &alias)
            )));
        }
        self.propose(Command::DeleteAlias { alias }).await.map(|_| ())
    }
}
