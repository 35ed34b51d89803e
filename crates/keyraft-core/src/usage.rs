//! Key last usage (GetKeyLastUsage): the last successful cryptographic operation per key.
//!
//! Nodes do not write to the log per operation: each node collects the latest use of every key
//! it served and proposes them together every so often (`RecordUsage`); apply keeps, per key,
//! the latest by time.

use serde::{Deserialize, Serialize};

/// The last successful cryptographic operation with a key, as one node saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastUsage {
    /// When the node served it (node clock, ms since the epoch).
    pub time_ms: u64,
    /// AWS `KeyLastUsageTrackingOperation` (Encrypt, Decrypt, Sign, …).
    pub operation: String,
    /// `x-amzn-RequestId` of the request.
    pub request_id: String,
    /// The request's audit (CloudTrail) eventID.
    pub event_id: String,
}

impl LastUsage {
    /// Whether `self` is the later use (ties broken by request id, so every node agrees).
    pub fn newer_than(&self, other: &LastUsage) -> bool {
        (self.time_ms, &self.request_id) > (other.time_ms, &other.request_id)
    }
}

/// AWS's cryptographic operations with a key: the ones GetKeyLastUsage reports (AWS
/// `KeyLastUsageTrackingOperation`), the read-only ones with a `DryRun` member, and (with
/// GenerateRandom) CloudTrail's read-only data operations and the shared-quota family.
pub const CRYPTOGRAPHIC_OPERATIONS: &[&str] = &[
    "Decapsulate",
    "Decrypt",
    "DeriveSharedSecret",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];
