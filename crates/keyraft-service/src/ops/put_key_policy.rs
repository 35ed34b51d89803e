//! PutKeyPolicy: stored and returned; enforcement comes with the access-control work.

use keyraft_core::{Command, KeyRef};

use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};
use crate::ops::policy::{check_policy_name, validate_policy};

impl Kms {
    pub async fn put_key_policy(
        &self,
        caller: &Caller,
        key: &KeyRef,
        name: Option<&str>,
        policy: String,
    ) -> Result<(), KmsError> {
        no_alias(key)?;
        let name = check_policy_name(name)?;
        validate_policy(&policy)?;
        let k = self.resolve(caller, key).await?;
        self.propose(Command::PutKeyPolicy { key: k.id, name, policy }).await.map(|_| ())
    }
}
