//! The observer that feeds GetKeyLastUsage: every successful cryptographic operation is
//! reported to the node's `Kms::record_usage` with its request id and audit event id (see
//! `keyraft_service::usage`).

use std::sync::Arc;

use keyraft_core::usage::{LastUsage, CRYPTOGRAPHIC_OPERATIONS};
use keyraft_core::KeyRef;
use keyraft_service::Kms;

use crate::server::{Exchange, Observer};

pub struct UsageObserver {
    kms: Arc<Kms>,
}

impl UsageObserver {
    pub fn new(kms: Arc<Kms>) -> Self {
        UsageObserver { kms }
    }
}

impl Observer for UsageObserver {
    fn observe(&self, e: &Exchange<'_>) -> Result<(), String> {
        let (Some(op), Ok(out)) = (e.operation, e.outcome) else { return Ok(()) };
        if !CRYPTOGRAPHIC_OPERATIONS.contains(&op) {
            return Ok(());
        }
        // ReEncrypt used two keys: the source (SourceKeyId) and the destination (KeyId).
        for member in ["KeyId", "SourceKeyId"] {
            let Some(KeyRef::Arn(arn)) = out.get(member).and_then(|v| v.as_str()).and_then(|s| KeyRef::parse(s).ok())
            else {
                continue;
            };
            if &arn.region != self.kms.region() {
                continue;
            }
            self.kms.record_usage(
                arn.key_id,
                LastUsage {
                    time_ms: e.received_ms,
                    operation: op.to_owned(),
                    request_id: e.request_id.to_owned(),
                    event_id: e.event_id.to_owned(),
                },
            );
        }
        Ok(())
    }
}
