//! EnableKeyRotation: RotationPeriodInDays 90–2560, default 365. The first automatic rotation is
//! due a period later (`keyraft_core::rotation`); the leader's housekeeping performs it.
//! Multi-region keys are refused until the multi-region two-phase protocol exists.

use keyraft_core::{Command, KeyRef};

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
        let k = self.resolve(caller, key).await?;
        if k.multi_region {
            return Err(KmsError::Unsupported(format!(
                "{} is a multi-Region key; its rotation needs the multi-region two-phase protocol, which this keyraft version does not have yet.",
                k.arn()
            )));
        }
        self.propose(Command::SetRotation { key: k.id, period_days: Some(days) }).await.map(|_| ())
    }
}
