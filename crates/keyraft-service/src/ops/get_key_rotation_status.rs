//! GetKeyRotationStatus.

use keyraft_core::{KeyArn, KeyRef};

use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationStatus {
    pub key: KeyArn,
    pub period_days: Option<u32>,
    /// When automatic rotation is next due (ms since the epoch), if enabled.
    pub next_rotation_ms: Option<u64>,
}

impl Kms {
    pub async fn get_key_rotation_status(&self, caller: &Caller, key: &KeyRef) -> Result<RotationStatus, KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key).await?;
        keyraft_core::lifecycle::check_read(&k)?;
        let last = k.material.iter().map(|m| m.created_ms).max().unwrap_or(k.creation_ms);
        Ok(RotationStatus {
            key: k.arn(),
            period_days: k.rotation_period_days,
            next_rotation_ms: k.rotation_period_days.map(|d| last + u64::from(d) * DAY_MS),
        })
    }
}
