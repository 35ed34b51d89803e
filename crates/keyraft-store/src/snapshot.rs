//! The snapshot format, and where the current snapshot is kept.
//!
//! Snapshot bytes (what openraft ships to followers) are the bincode of
//! `{format_version: u32, last_applied, last_membership, state}`; the first four bytes are the
//! format version (little-endian), checked before the rest is decoded. The state holds only
//! wrapped key material, never plaintext.
//!
//! The current snapshot is kept in the tree `sm_snapshot`: key `current` = encoded
//! `{meta, data}`, key `counter` = the last snapshot counter used in a snapshot id
//! (`<term>-<index>-<counter>`), so ids stay unique across restarts.

use serde::{Deserialize, Serialize};

use keyraft_core::RegionState;

use crate::codec::{decode, encode, from_bincode, to_bincode};
use crate::error::StoreError;
use crate::sm_tree::Machine;
use crate::types::{LogId, SnapshotMeta, StoredMembership};

pub(crate) const SNAPSHOT_TREE: &str = "sm_snapshot";
const CURRENT: &[u8] = b"current";
const COUNTER: &[u8] = b"counter";

/// The snapshot format this build writes (3: format 2 plus grants and key usage; 2: format 1 plus the
/// multi-region key states). It also reads formats 1 and 2.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 3;

/// The region state as snapshot format 1 laid it out (before multi-region key states).
#[derive(Deserialize)]
struct RegionStateV1 {
    keys: std::collections::BTreeMap<keyraft_core::KeyId, keyraft_core::KeyRecord>,
    aliases: std::collections::BTreeMap<keyraft_core::AliasName, keyraft_core::AliasRecord>,
    requests: std::collections::BTreeMap<keyraft_core::command::RequestId, keyraft_core::state::Remembered>,
    clock_ms: u64,
    deleted: std::collections::BTreeMap<keyraft_core::KeyId, keyraft_core::AccountId>,
}

/// The region state as snapshot format 2 laid it out (before grants).
#[derive(Deserialize)]
struct RegionStateV2 {
    keys: std::collections::BTreeMap<keyraft_core::KeyId, keyraft_core::KeyRecord>,
    aliases: std::collections::BTreeMap<keyraft_core::AliasName, keyraft_core::AliasRecord>,
    requests: std::collections::BTreeMap<keyraft_core::command::RequestId, keyraft_core::state::Remembered>,
    clock_ms: u64,
    deleted: std::collections::BTreeMap<keyraft_core::KeyId, keyraft_core::AccountId>,
    multi_region: std::collections::BTreeMap<keyraft_core::KeyId, keyraft_core::multi_region::MrkState>,
}

#[derive(Deserialize)]
struct PayloadV2 {
    format_version: u32,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    state: RegionStateV2,
}

#[derive(Deserialize)]
struct PayloadV1 {
    format_version: u32,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    state: RegionStateV1,
}

#[derive(Serialize)]
struct PayloadRef<'a> {
    format_version: u32,
    last_applied: &'a Option<LogId>,
    last_membership: &'a StoredMembership,
    state: &'a RegionState,
}

#[derive(Deserialize)]
struct Payload {
    format_version: u32,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    state: RegionState,
}

/// Serializes the machine as snapshot bytes.
pub(crate) fn to_bytes(m: &Machine) -> Result<Vec<u8>, StoreError> {
    to_bincode(
        "snapshot",
        &PayloadRef {
            format_version: SNAPSHOT_FORMAT_VERSION,
            last_applied: &m.last_applied,
            last_membership: &m.membership,
            state: &m.state,
        },
    )
}

/// Decodes snapshot bytes and checks them against the snapshot's `meta`.
pub(crate) fn from_bytes(meta: &SnapshotMeta, bytes: &[u8]) -> Result<Machine, StoreError> {
    let version = bytes
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| StoreError::corrupt("snapshot", format!("{} bytes", bytes.len())))?;
    let p: Payload = match version {
        SNAPSHOT_FORMAT_VERSION => from_bincode("snapshot", bytes)?,
        2 => {
            let p: PayloadV2 = from_bincode("snapshot", bytes)?;
            let s = p.state;
            Payload {
                format_version: p.format_version,
                last_applied: p.last_applied,
                last_membership: p.last_membership,
                state: RegionState {
                    keys: s.keys,
                    aliases: s.aliases,
                    requests: s.requests,
                    clock_ms: s.clock_ms,
                    deleted: s.deleted,
                    multi_region: s.multi_region,
                    grants: Default::default(),
                    usage: Default::default(),
                },
            }
        }
        1 => {
            let p: PayloadV1 = from_bincode("snapshot", bytes)?;
            let s = p.state;
            Payload {
                format_version: p.format_version,
                last_applied: p.last_applied,
                last_membership: p.last_membership,
                state: RegionState {
                    keys: s.keys,
                    aliases: s.aliases,
                    requests: s.requests,
                    clock_ms: s.clock_ms,
                    deleted: s.deleted,
                    multi_region: Default::default(),
                    grants: Default::default(),
                    usage: Default::default(),
                },
            }
        }
        _ => {
            return Err(StoreError::FormatVersion {
                what: "snapshot",
                found: version,
                expected: SNAPSHOT_FORMAT_VERSION,
            })
        }
    };
    debug_assert_eq!(p.format_version, version);
    if p.last_applied != meta.last_log_id || p.last_membership != meta.last_membership {
        return Err(StoreError::corrupt("snapshot", format!("contents do not match its meta {meta}")));
    }
    Ok(Machine { state: p.state, last_applied: p.last_applied, membership: p.last_membership })
}

#[derive(Serialize)]
struct StatePayloadRef<'a> {
    format_version: u32,
    state: &'a RegionState,
}

#[derive(Deserialize)]
struct StatePayload {
    format_version: u32,
    state: RegionState,
}

/// A region state alone in the snapshot encoding (a backup's payload): the u32 snapshot format
/// version (little-endian, [`SNAPSHOT_FORMAT_VERSION`]) then the bincode of the state, exactly
/// as it sits in a snapshot of that format. Holds only wrapped material.
pub fn encode_state(state: &RegionState) -> Result<Vec<u8>, StoreError> {
    to_bincode("region state", &StatePayloadRef { format_version: SNAPSHOT_FORMAT_VERSION, state })
}

/// Decodes [`encode_state`]'s bytes. Format 3 only (the first format backups were written in);
/// a build that moves snapshots to a new format keeps a decoder for 3 here.
pub fn decode_state(bytes: &[u8]) -> Result<RegionState, StoreError> {
    let version = bytes
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| StoreError::corrupt("region state", format!("{} bytes", bytes.len())))?;
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(StoreError::FormatVersion {
            what: "region state",
            found: version,
            expected: SNAPSHOT_FORMAT_VERSION,
        });
    }
    let p: StatePayload = from_bincode("region state", bytes)?;
    debug_assert_eq!(p.format_version, version);
    Ok(p.state)
}

/// The snapshot id for a snapshot of `last_applied`, numbered `counter`.
pub(crate) fn snapshot_id(last_applied: Option<&LogId>, counter: u64) -> String {
    match last_applied {
        Some(l) => format!("{}-{}-{counter}", l.leader_id.term, l.index),
        None => format!("0-0-{counter}"),
    }
}

/// A snapshot as kept in sled.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredSnapshot {
    pub meta: SnapshotMeta,
    pub data: Vec<u8>,
}

/// The current snapshot, if any.
pub(crate) fn load_current(tree: &sled::Tree) -> Result<Option<StoredSnapshot>, StoreError> {
    match tree.get(CURRENT)? {
        None => Ok(None),
        Some(v) => decode("stored snapshot", &v).map(Some),
    }
}

/// The last counter used in a snapshot id (0 if none).
pub(crate) fn load_counter(tree: &sled::Tree) -> Result<u64, StoreError> {
    match tree.get(COUNTER)? {
        None => Ok(0),
        Some(v) => decode("snapshot counter", &v),
    }
}

/// Replaces the current snapshot (and records `counter`) in one atomic batch. Not flushed.
pub(crate) fn store_current(tree: &sled::Tree, snap: &StoredSnapshot, counter: u64) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    batch.insert(CURRENT, encode("stored snapshot", snap)?);
    batch.insert(COUNTER, encode("snapshot counter", &counter)?);
    tree.apply_batch(batch)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use keyraft_core::multi_region::MrkState;
    use keyraft_core::{AccountId, KeyId, KeyRecord, Region};
    use serde::Serialize;

    use super::*;

    fn meta(last_applied: Option<LogId>) -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: last_applied,
            last_membership: StoredMembership::default(),
            snapshot_id: "1-1-1".into(),
        }
    }

    /// Format-1 (before multi-region states) and format-2 (before grants) snapshots still
    /// install.
    #[test]
    fn older_snapshot_formats_still_decode() {
        #[derive(Serialize)]
        struct V1<'a> {
            format_version: u32,
            last_applied: &'a Option<LogId>,
            last_membership: &'a StoredMembership,
            // RegionState's format-1 fields, in order (bincode nests structs flat).
            keys: &'a std::collections::BTreeMap<KeyId, KeyRecord>,
            aliases: &'a std::collections::BTreeMap<keyraft_core::AliasName, keyraft_core::AliasRecord>,
            requests: &'a std::collections::BTreeMap<keyraft_core::command::RequestId, keyraft_core::state::Remembered>,
            clock_ms: u64,
            deleted: &'a std::collections::BTreeMap<KeyId, AccountId>,
        }
        let region = Region::parse("us-east-1").unwrap();
        let account = AccountId::parse("111122223333").unwrap();
        let id = KeyId::mrk_from_bytes([7; 16]);
        let mut state = RegionState::default();
        state.keys.insert(
            id.clone(),
            KeyRecord { multi_region: true, ..KeyRecord::new(id.clone(), account, region.clone()) },
        );
        state.clock_ms = 42;
        let last = Some(openraft::testing::log_id(1, 1, 9));
        let bytes = to_bincode(
            "v1",
            &V1 {
                format_version: 1,
                last_applied: &last,
                last_membership: &StoredMembership::default(),
                keys: &state.keys,
                aliases: &state.aliases,
                requests: &state.requests,
                clock_ms: state.clock_ms,
                deleted: &state.deleted,
            },
        )
        .unwrap();
        let m = from_bytes(&meta(last), &bytes).unwrap();
        assert_eq!(m.state, state);

        // A format-2 snapshot (multi-region states, no grants) decodes too.
        #[derive(Serialize)]
        struct V2<'a> {
            format_version: u32,
            last_applied: &'a Option<LogId>,
            last_membership: &'a StoredMembership,
            keys: &'a std::collections::BTreeMap<KeyId, KeyRecord>,
            aliases: &'a std::collections::BTreeMap<keyraft_core::AliasName, keyraft_core::AliasRecord>,
            requests: &'a std::collections::BTreeMap<keyraft_core::command::RequestId, keyraft_core::state::Remembered>,
            clock_ms: u64,
            deleted: &'a std::collections::BTreeMap<KeyId, AccountId>,
            multi_region: &'a std::collections::BTreeMap<KeyId, MrkState>,
        }
        let mut m2 = m.clone();
        m2.state.multi_region.insert(id.clone(), MrkState::new_primary(region, 5));
        let s2 = &m2.state;
        let bytes = to_bincode(
            "v2",
            &V2 {
                format_version: 2,
                last_applied: &last,
                last_membership: &StoredMembership::default(),
                keys: &s2.keys,
                aliases: &s2.aliases,
                requests: &s2.requests,
                clock_ms: s2.clock_ms,
                deleted: &s2.deleted,
                multi_region: &s2.multi_region,
            },
        )
        .unwrap();
        assert_eq!(from_bytes(&meta(last), &bytes).unwrap(), m2);

        // Format 3 round-trips grants and key usage.
        let mut m3 = m2.clone();
        let grant = keyraft_core::grants::Grant {
            id: "ab".repeat(32),
            key: id.clone(),
            name: Some("n".into()),
            grantee: "arn:aws:iam::111122223333:user/bob".into(),
            retiring: None,
            issuing_account: AccountId::parse("111122223333").unwrap(),
            operations: [keyraft_core::grants::GrantOperation::Decrypt].into(),
            constraints: Default::default(),
            creation_ms: 7,
        };
        m3.state.grants.insert(id.clone(), [(grant.id.clone(), grant)].into());
        let used = keyraft_core::usage::LastUsage {
            time_ms: 9,
            operation: "Encrypt".into(),
            request_id: "r".into(),
            event_id: "e".into(),
        };
        m3.state.usage.insert(id, used);
        let back = from_bytes(&meta(last), &to_bytes(&m3).unwrap()).unwrap();
        assert_eq!(back, m3);
        assert_eq!(u32::from_le_bytes(to_bytes(&m3).unwrap()[..4].try_into().unwrap()), 3);
    }

    /// A region state alone (a backup's payload) round-trips; other versions and damaged bytes
    /// are errors.
    #[test]
    fn region_state_encoding_round_trips() {
        let mut state = RegionState::default();
        let id = KeyId::from_uuid_bytes([3; 16]);
        let region = Region::parse("us-east-1").unwrap();
        state.keys.insert(id.clone(), KeyRecord::new(id, AccountId::parse("111122223333").unwrap(), region));
        state.clock_ms = 99;
        let bytes = encode_state(&state).unwrap();
        assert_eq!(u32::from_le_bytes(bytes[..4].try_into().unwrap()), SNAPSHOT_FORMAT_VERSION);
        assert_eq!(decode_state(&bytes).unwrap(), state);
        let mut other = bytes.clone();
        other[0] = 2;
        assert!(matches!(decode_state(&other), Err(StoreError::FormatVersion { found: 2, .. })));
        assert!(decode_state(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_state(&bytes[..2]).is_err());
    }
}
