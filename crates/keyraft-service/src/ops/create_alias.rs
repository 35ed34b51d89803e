//! CreateAlias: `alias/aws/` is reserved; the target must be a key id or key ARN.

use keyraft_core::{AliasName, Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

pub(crate) fn check_alias_name(name: &str) -> Result<AliasName, KmsError> {
    let alias = AliasName::parse(name).map_err(|e| KmsError::Validation(e.to_string()))?;
    if alias.is_reserved() {
        return Err(KmsError::InvalidAliasName(format!("Alias must not begin with alias/aws/: {alias}")));
    }
    Ok(alias)
}

impl Kms {
    pub async fn create_alias(&self, caller: &Caller, name: &str, target: &KeyRef) -> Result<(), KmsError> {
        let alias = check_alias_name(name)?;
        no_alias(target)?;
        let k = self.resolve(caller, target, Access::new("kms:CreateAlias")).await?;
        self.propose(Command::CreateAlias { alias, key: k.id }).await.map(|_| ())
    }
}
