//! ListKeyPolicies: always `default`.

use keyraft_core::KeyRef;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

impl Kms {
    pub async fn list_key_policies(&self, caller: &Caller, key: &KeyRef) -> Result<Vec<String>, KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key, Access::new("kms:ListKeyPolicies")).await?;
        keyraft_core::lifecycle::check_read(&k)?;
        Ok(k.policies.keys().cloned().collect())
    }
}
