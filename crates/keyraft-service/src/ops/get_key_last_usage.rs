//! GetKeyLastUsage: the last successful cryptographic operation with a key (`usage.rs`).

use keyraft_core::usage::LastUsage;
use keyraft_core::{KeyId, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLastUsageOutput {
    pub key: KeyId,
    pub last: Option<LastUsage>,
    /// Tracking starts when the key is created.
    pub tracking_start_ms: u64,
    pub creation_ms: u64,
}

impl Kms {
    pub async fn get_key_last_usage(&self, caller: &Caller, key: &KeyRef) -> Result<KeyLastUsageOutput, KmsError> {
        no_alias(key)?;
        let (k, stored) = self
            .read(|s| {
                let k = self.resolve_authorized(s, caller, key, &Access::new("kms:GetKeyLastUsage"))?;
                let used = s.usage.get(&k.id).cloned();
                Ok::<_, KmsError>((k, used))
            })
            .await??;
        let last = match (stored, self.pending_usage(&k.id)) {
            (Some(a), Some(b)) => Some(if b.newer_than(&a) { b } else { a }),
            (a, b) => a.or(b),
        };
        Ok(KeyLastUsageOutput { key: k.id, last, tracking_start_ms: k.creation_ms, creation_ms: k.creation_ms })
    }
}
