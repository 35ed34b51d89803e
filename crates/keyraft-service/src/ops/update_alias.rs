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
        // AWS asks for kms:UpdateAlias on the key the alias leaves and on the one it joins.
        let k = self
            .read(|s| {
                if let Some(old) = s.alias_target(&alias).and_then(|id| s.keys.get(id)) {
                    self.authorize(s, caller, old, &KeyRef::Alias(alias.clone()), &Access::new("kms:UpdateAlias"))?;
                }
                self.resolve_authorized(s, caller, target, &Access::new("kms:UpdateAlias"))
            })
            .await??;
        self.propose(Command::UpdateAlias { alias, key: k.id }).await.map(|_| ())
    }
}
