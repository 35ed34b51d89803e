//! GetKeyRotationStatus.

use keyraft_core::{KeyArn, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

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
        let k = self.resolve(caller, key, Access::new("kms:GetKeyRotationStatus")).await?;
        keyraft_core::lifecycle::check_read(&k)?;
        // The schedule is kept by `keyraft_core::rotation`: a period after rotation was enabled,
        // then a period after each automatic rotation (on-demand rotations do not move it).
        // On-demand rotations complete before RotateKeyOnDemand returns, so none is ever in
        // progress and OnDemandRotationStartDate never applies.
        Ok(RotationStatus {
            key: k.arn(),
            period_days: k.rotation_period_days,
            next_rotation_ms: k.rotation_period_days.and(k.rotation.next_ms),
        })
    }
}
