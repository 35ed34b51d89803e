//! The on-disk value codec: one format-version byte, then bincode 1.3.
//!
//! bincode options (frozen with format version 1): fixed-width little-endian integers (the
//! `bincode::serialize` layout). Decoding additionally
//! - limits every allocation to the length of the input, so a damaged length prefix is an error
//!   rather than a multi-gigabyte allocation (an abort);
//! - rejects trailing bytes, so a value that decodes from a prefix of damaged bytes is still
//!   noticed.
//!
//! bincode is not self-describing: adding, removing or reordering a field of any persisted type
//! (openraft's `Entry`, `Vote`, `LogId`, `StoredMembership`, `SnapshotMeta`, or keyraft-core's
//! `Envelope`, `KeyRecord`, `AliasRecord`, `Remembered`) changes the format and needs a new
//! [`FORMAT_VERSION`] with a decoder for the old one.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;

/// The version byte that prefixes every persisted value (format 1: the layout of the first
/// release).
pub const FORMAT_VERSION: u8 = 1;

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_fixint_encoding().with_little_endian()
}

/// Encodes `value` as bincode without a version prefix (snapshot payloads carry their own).
pub(crate) fn to_bincode<T: Serialize + ?Sized>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    options().serialize(value).map_err(|source| StoreError::Encode { what, source })
}

/// Decodes bincode without a version prefix; the whole input must be consumed.
pub(crate) fn from_bincode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    options()
        .with_limit(bytes.len() as u64)
        .reject_trailing_bytes()
        .deserialize(bytes)
        .map_err(|source| StoreError::Decode { what, source })
}

/// Encodes a value to be stored: `[FORMAT_VERSION] ++ bincode(value)`.
pub(crate) fn encode<T: Serialize + ?Sized>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![FORMAT_VERSION];
    options().serialize_into(&mut out, value).map_err(|source| StoreError::Encode { what, source })?;
    Ok(out)
}

/// Decodes a stored value written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        None => Err(StoreError::corrupt(what, "empty value")),
        Some((&FORMAT_VERSION, rest)) => from_bincode(what, rest),
        Some((&found, _)) => {
            Err(StoreError::FormatVersion { what, found: u32::from(found), expected: u32::from(FORMAT_VERSION) })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use keyraft_core::command::RequestId;
    use keyraft_core::state::Remembered;
    use keyraft_core::{Command, CoreError, Envelope, KeyId};
    use openraft::{BasicNode, EntryPayload, Membership, SnapshotMeta};

    use super::*;
    use crate::types::{Entry, LogId, NodeId, StoredMembership, Vote};

    fn log_id(term: u64, node: NodeId, index: u64) -> LogId {
        openraft::testing::log_id(term, node, index)
    }

    fn roundtrip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
        let bytes = encode("test value", v).unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        let back: T = decode("test value", &bytes).unwrap();
        assert_eq!(&back, v);
    }

    /// Two joint configs plus a learner (node 4), with addresses.
    fn membership() -> Membership<NodeId, BasicNode> {
        let nodes: BTreeMap<NodeId, BasicNode> =
            (1..=4).map(|i| (i, BasicNode::new(format!("10.0.0.{i}:7000")))).collect();
        Membership::new(vec![BTreeSet::from([1, 2]), BTreeSet::from([2, 3])], nodes)
    }

    /// The choice of bincode rests on this: every openraft type we persist round-trips.
    #[test]
    fn openraft_types_roundtrip_through_bincode() {
        roundtrip(&log_id(3, 7, 42));
        roundtrip(&Some(log_id(3, 7, 42)));
        roundtrip(&None::<LogId>);
        roundtrip(&Vote::new(5, 2));
        roundtrip(&Vote::new_committed(5, 2));
        roundtrip(&StoredMembership::new(Some(log_id(1, 1, 9)), membership()));
        roundtrip(&StoredMembership::default());
        roundtrip(&SnapshotMeta::<NodeId, BasicNode> {
            last_log_id: Some(log_id(2, 1, 10)),
            last_membership: StoredMembership::new(Some(log_id(1, 1, 9)), membership()),
            snapshot_id: "2-10-1".into(),
        });

        let blank = Entry { log_id: log_id(1, 0, 1), payload: EntryPayload::Blank };
        let member = Entry { log_id: log_id(1, 0, 2), payload: EntryPayload::Membership(membership()) };
        let normal = Entry {
            log_id: log_id(2, 1, 3),
            payload: EntryPayload::Normal(Envelope {
                request_id: RequestId([9; 16]),
                time_ms: 1_700_000_000_000,
                command: Command::SetEnabled { key: KeyId::from_uuid_bytes([1; 16]), enabled: false },
            }),
        };
        for e in [blank, member, normal] {
            roundtrip(&e);
        }
    }

    #[test]
    fn core_results_roundtrip() {
        roundtrip(&Remembered { time_ms: 5, result: Ok(keyraft_core::state::AppliedRef::Unit) });
        roundtrip(&Remembered {
            time_ms: 6,
            result: Err(CoreError::InvalidState { arn: "arn".into(), state: keyraft_core::KeyState::PendingDeletion }),
        });
    }

    #[test]
    fn damaged_values_are_errors() {
        let good = encode("log id", &log_id(1, 2, 3)).unwrap();

        assert!(matches!(decode::<LogId>("log id", &[]), Err(StoreError::Corrupt { .. })));
        let mut wrong_version = good.clone();
        wrong_version[0] = 99;
        assert!(matches!(decode::<LogId>("log id", &wrong_version), Err(StoreError::FormatVersion { found: 99, .. })));
        for cut in 1..good.len() {
            assert!(matches!(decode::<LogId>("log id", &good[..cut]), Err(StoreError::Decode { .. })));
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(decode::<LogId>("log id", &trailing), Err(StoreError::Decode { .. })));

        // A huge length prefix must fail cleanly, not try to allocate.
        let mut huge = vec![FORMAT_VERSION];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        huge.extend_from_slice(b"abc");
        assert!(matches!(decode::<String>("string", &huge), Err(StoreError::Decode { .. })));
        assert!(matches!(decode::<Vec<u8>>("bytes", &huge), Err(StoreError::Decode { .. })));
        assert!(decode::<Entry>("entry", &huge).is_err());

        // A key id that does not parse is a decode error, not a panic.
        let bad_id = encode("string", "not-a-key-id").unwrap();
        assert!(matches!(decode::<KeyId>("key id", &bad_id), Err(StoreError::Decode { .. })));
    }
}
