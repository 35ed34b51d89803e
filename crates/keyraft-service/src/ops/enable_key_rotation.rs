//! EnableKeyRotation: RotationPeriodInDays 90–2560, default 365. The first automatic rotation is
//! due a period later (`keyraft_core::rotation`); the leader's housekeeping performs it.
//! On a multi-region key it is a shared property: set on the primary, answered once every replica
//! region holds it.

use keyraft_core::{Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

impl Kms {
    pub async fn enable_key_rotation(
        &self,
        caller: &Caller,
        key: &KeyRef,
        period_days: Option<u32>,
    ) -> Result<(), KmsError> {
        no_alias(key)?;
        let days = period_days.unwrap_or(365);
        if !(90..=2560).contains(&days) {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between 90 and 2560"
            )));
        }
        let k = self
            .resolve(
                caller,
                key,
                Access::new("kms:EnableKeyRotation").with("kms:RotationPeriodInDays", days.to_string()),
            )
            .await?;
        self.propose(Command::SetRotation { key: k.id.clone(), period_days: Some(days) }).await?;
        // The rotation setting is shared by a multi-region key's regions.
        self.await_shared_change(&k).await
    }
}
