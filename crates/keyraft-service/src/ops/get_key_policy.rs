//! GetKeyPolicy.

use keyraft_core::KeyRef;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};
use crate::ops::policy::check_policy_name;

impl Kms {
    pub async fn get_key_policy(
        &self,
        caller: &Caller,
        key: &KeyRef,
        name: Option<&str>,
    ) -> Result<(String, String), KmsError> {
        no_alias(key)?;
        let name = check_policy_name(name)?;
        let k = self.resolve(caller, key, Access::new("kms:GetKeyPolicy")).await?;
        keyraft_core::lifecycle::check_read(&k)?;
        let policy = k.policies.get(&name).cloned().unwrap_or_default();
        Ok((name, policy))
    }
}
