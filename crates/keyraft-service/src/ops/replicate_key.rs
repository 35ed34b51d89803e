//! ReplicateKey: adds a replica of a multi-region primary key in another region of the
//! deployment. Committed in the primary region (an outbox entry), shipped by its leader, and
//! acknowledged to the client only once the replica region has committed the replica (M3).

use keyraft_core::multi_region::{MrkState, ReplicaInit};
use keyraft_core::{Command, KeyArn, KeyRecord, KeyRef, Region};

use crate::authz::{check_new_policy, Access};
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};
use crate::ops::{policy, tags};

#[derive(Debug, Clone)]
pub struct ReplicateKeyInput {
    pub region: Region,
    pub description: Option<String>,
    pub policy: Option<String>,
    pub tags: Vec<(String, String)>,
    pub bypass_lockout_check: bool,
}

/// The replica as the replica region holds it: ReplicaKeyMetadata, ReplicaPolicy, ReplicaTags.
#[derive(Debug, Clone)]
pub struct ReplicaOutput {
    pub replica: KeyRecord,
    pub state: MrkState,
    pub policy: String,
}

impl Kms {
    pub async fn replicate_key(
        &self,
        caller: &Caller,
        key: &KeyRef,
        input: ReplicateKeyInput,
    ) -> Result<ReplicaOutput, KmsError> {
        no_alias(key)?;
        tags::validate_tags(&input.tags)?;
        let access = Access::new("kms:ReplicateKey")
            .with("kms:ReplicaRegion", input.region.as_str())
            .with("kms:BypassPolicyLockoutSafetyCheck", if input.bypass_lockout_check { "true" } else { "false" });
        let k = self.resolve(caller, key, access).await?;
        let policy = match input.policy {
            Some(p) => {
                policy::validate_policy(&p)?;
                let replica = KeyArn { region: input.region.clone(), account: k.account.clone(), key_id: k.id.clone() };
                check_new_policy(
                    caller,
                    input.region.as_str(),
                    &replica.to_string(),
                    k.account.as_str(),
                    &p,
                    input.bypass_lockout_check,
                    self.node().clock().now_ms(),
                )?;
                p
            }
            None => policy::default_policy(&caller.account),
        };
        if !k.multi_region {
            return Err(KmsError::Unsupported(format!("{} is not a multi-Region key.", k.arn())));
        }
        self.check_destination(&input.region)?;
        let init = ReplicaInit {
            description: input.description.unwrap_or_default(),
            policy: policy.clone(),
            tags: input.tags.into_iter().collect(),
        };
        self.propose_key(Command::ReplicateKey { key: k.id.clone(), region: input.region.clone(), init: init.clone() })
            .await?;
        let m = self.multi_region_state_now(&k).await?;
        self.await_replicated(&k.id, &m.epoch, m.version).await?;
        let now = self.multi_region_state_now(&k).await?;
        if !now.replicas.contains(&input.region) {
            return Err(KmsError::InvalidState(format!(
                "{} once held a replica of {} that was deleted; a deleted key id cannot be replicated there again",
                input.region, k.id
            )));
        }
        // What the replica region now holds, as the primary region knows it (the shared state
        // plus the per-region properties it was created with).
        let replica = KeyRecord {
            region: input.region,
            description: init.description,
            tags: init.tags,
            policies: [("default".to_string(), policy.clone())].into(),
            ..k
        };
        Ok(ReplicaOutput { replica, state: m, policy })
    }
}
