//! EnableKeyRotation: RotationPeriodInDays 90–2560, default 365. The setting is stored; rotation
//! itself comes with the cryptography work.

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
        self.propose(Command::SetRotation { key: k.id, period_days: Some(days) }).await.map(|_| ())
    }
}
