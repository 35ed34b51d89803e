//! Forced DR promotion (`keyraft dr promote`; no AWS equivalent): makes this region's replicas of
//! multi-region keys primary at a higher epoch while the old primary region is unreachable. The
//! epoch, committed in this region's Raft log, fences the old primary when it returns.

use keyraft_core::multi_region::{Epoch, MrkState};
use keyraft_core::{Command, KeyId, KeyRecord};
use serde::{Deserialize, Serialize};

use crate::error::KmsError;
use crate::kms::Kms;

/// The outcome of promoting one key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Promotion {
    pub key: KeyId,
    /// The epoch before and after (`None` after: the promotion was refused, see `error`).
    pub from: Option<Epoch>,
    pub to: Option<Epoch>,
    pub error: Option<String>,
}

impl Kms {
    /// Promotes the replicas named by `keys` (`None`: every replica key in this region).
    pub async fn force_promote(&self, keys: Option<Vec<KeyId>>) -> Result<Vec<Promotion>, KmsError> {
        let region = self.region().clone();
        let targets: Vec<(KeyRecord, MrkState)> = self
            .read(|s| {
                s.keys
                    .values()
                    .filter(|k| keys.as_ref().is_none_or(|ks| ks.contains(&k.id)))
                    .filter_map(|k| keyraft_core::multi_region::state_of(&s.multi_region, k).map(|m| (k.clone(), m)))
                    .collect()
            })
            .await?;
        if let Some(ks) = &keys {
            if let Some(missing) = ks.iter().find(|id| !targets.iter().any(|(k, _)| &k.id == *id)) {
                return Err(KmsError::NotFound(format!("{missing} is not a multi-Region key in {region}")));
            }
        }
        let mut out = Vec::new();
        for (k, m) in targets {
            if keys.is_none() && m.epoch.primary == region && m.fenced_by.is_none() {
                continue; // already primary here
            }
            let r = self.propose_key(Command::ForcePromote { key: k.id.clone() }).await;
            let after = self.multi_region_state_now(&k).await.ok().map(|m| m.epoch);
            tracing::warn!(key = %k.id, from = %m.epoch, to = ?after, ok = r.is_ok(), "forced promotion (audit)");
            out.push(Promotion {
                key: k.id.clone(),
                from: Some(m.epoch),
                to: r.as_ref().ok().and(after),
                error: r.err().map(|e| e.to_string()),
            });
        }
        Ok(out)
    }
}
