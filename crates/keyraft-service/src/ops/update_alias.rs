//! UpdateAlias: point an existing alias at another key of the same type and usage.

use keyraft_core::{Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};
use crate::ops::create_alias::check_alias_name;

impl Kms {
    pub async fn update_alias(&self, caller: &Caller, name: &str, target: &KeyRef) -> Result<(), KmsError> {
        let alias = check_alias_name(name)?;
        no_alias(target)?;
        let k = self.resolve(caller, target, Access::new("kms:UpdateAlias")).await?;
        self.propose(Command::UpdateAlias { alias, key: k.id }).await.map(|_| ())
    }
}
