//! ScheduleKeyDeletion: PendingWindowInDays 7–30, default 30.

use keyraft_core::{Command, KeyRecord, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{applied_key, no_alias, Caller, Kms};

impl Kms {
    pub async fn schedule_key_deletion(
        &self,
        caller: &Caller,
        key: &KeyRef,
        window_days: Option<u32>,
    ) -> Result<KeyRecord, KmsError> {
        no_alias(key)?;
        let days = window_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
            )));
        }
        let k = self
            .resolve(
                caller,
                key,
                Access::new("kms:ScheduleKeyDeletion")
                    .with("kms:ScheduleKeyDeletionPendingWindowInDays", days.to_string()),
            )
            .await?;
        applied_key(self.propose(Command::ScheduleDeletion { key: k.id, window_days: days }).await?)
    }
}
