//! Key last usage without a Raft write per operation: the edge reports every successful
//! cryptographic operation here; the node keeps the latest per key and proposes what it
//! collected as one `RecordUsage` command every [`FLUSH_EVERY`] (from `housekeeping`).
//! GetKeyLastUsage reads the replicated state merged with this node's unflushed uses, so a
//! use served by another node shows within one flush interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use keyraft_core::usage::LastUsage;
use keyraft_core::{Command, KeyId};

use crate::kms::Kms;

/// How often a node proposes the uses it collected (at most one write per node per interval).
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(crate) struct UsageTracker {
    pending: Mutex<HashMap<KeyId, LastUsage>>,
    last_flush: Mutex<Option<Instant>>,
}

fn keep_newest(map: &mut HashMap<KeyId, LastUsage>, key: KeyId, used: LastUsage) {
    match map.get(&key) {
        Some(old) if !used.newer_than(old) => {}
        _ => {
            map.insert(key, used);
        }
    }
}

impl Kms {
    /// Records a successful cryptographic operation with `key`.
    pub fn record_usage(&self, key: KeyId, used: LastUsage) {
        if let Ok(mut p) = self.usage.pending.lock() {
            keep_newest(&mut p, key, used);
        }
    }

    /// This node's not yet proposed use of `key`.
    pub(crate) fn pending_usage(&self, key: &KeyId) -> Option<LastUsage> {
        self.usage.pending.lock().ok().and_then(|p| p.get(key).cloned())
    }

    /// Proposes the collected uses if [`FLUSH_EVERY`] has passed since the last proposal (or
    /// `force`). On failure they are kept for the next try.
    pub async fn flush_usage(&self, force: bool) {
        {
            let Ok(mut last) = self.usage.last_flush.lock() else { return };
            if !force && last.is_some_and(|t| t.elapsed() < FLUSH_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let entries: Vec<(KeyId, LastUsage)> = match self.usage.pending.lock() {
            Ok(mut p) => p.drain().collect(),
            Err(_) => return,
        };
        if entries.is_empty() {
            return;
        }
        if let Err(e) = self.propose(Command::RecordUsage { entries: entries.clone() }).await {
            tracing::debug!(error = %e, "key usage not recorded; will retry");
            if let Ok(mut p) = self.usage.pending.lock() {
                for (k, u) in entries {
                    keep_newest(&mut p, k, u);
                }
            }
        }
    }
}
