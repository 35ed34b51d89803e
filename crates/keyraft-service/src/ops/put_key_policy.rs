//! PutKeyPolicy: parsed (MalformedPolicyDocumentException), checked against lockout unless
//! bypassed, then stored; `authz` enforces it from the next request on.

use keyraft_core::{Command, KeyRef};

use crate::authz::{check_new_policy, Access};
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
        bypass_lockout_check: bool,
    ) -> Result<(), KmsError> {
        no_alias(key)?;
        let name = check_policy_name(name)?;
        validate_policy(&policy)?;
        let access = Access::new("kms:PutKeyPolicy")
            .with("kms:BypassPolicyLockoutSafetyCheck", if bypass_lockout_check { "true" } else { "false" });
        let k = self.resolve(caller, key, access).await?;
        check_new_policy(
            caller,
            self.region().as_str(),
            &k.arn().to_string(),
            k.account.as_str(),
            &policy,
            bypass_lockout_check,
            self.node().clock().now_ms(),
        )?;
        self.propose(Command::PutKeyPolicy { key: k.id, name, policy }).await.map(|_| ())
    }
}
