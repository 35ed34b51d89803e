//! DeleteAlias.

use keyraft_core::{Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::create_alias::check_alias_name;

impl Kms {
    pub async fn delete_alias(&self, caller: &Caller, name: &str) -> Result<(), KmsError> {
        let alias = check_alias_name(name)?;
        let region = self.region().clone();
        let not_found = || {
            KmsError::NotFound(format!(
                "Alias {} is not found.",
                keyraft_core::ids::alias_arn(&region, &caller.account, &alias)
            ))
        };
        self.read(|s| {
            let Some(a) = s.aliases.get(&alias) else { return Err(not_found()) };
            match s.keys.get(&a.target) {
                None => Ok(()),
                Some(k) if k.account != caller.account => Err(not_found()),
                // AWS asks for kms:DeleteAlias on the alias and on its key; aliases have no
                // policies here, so the key's decides.
                Some(k) => self.authorize(s, caller, k, &KeyRef::Alias(alias.clone()), &Access::new("kms:DeleteAlias")),
            }
        })
        .await??;
        self.propose(Command::DeleteAlias { alias }).await.map(|_| ())
    }
}
