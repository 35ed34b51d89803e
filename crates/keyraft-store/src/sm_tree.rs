//! The state machine's layout in its sled tree, and the in-memory [`Machine`] it mirrors.
//!
//! One tree, `state_machine`, with prefixed keys:
//!
//! | key                  | value                          |
//! |----------------------|--------------------------------|
//! | `k/<key id>`         | `KeyRecord`                    |
//! | `a/<alias name>`     | `AliasRecord`                  |
//! | `r/<request id hex>` | `Remembered`                   |
//! | `d/<key id>`         | `AccountId` (deleted-key tombstone) |
//! | `g/<key id>`         | `MrkState` (multi-region key; added after format 1, same value format) |
//! | `t/<key id>`         | `BTreeMap<grant id, Grant>` (the key's grants; added after format 1, same value format) |
//! | `u/<key id>`         | `LastUsage` (the key's last cryptographic use; added after format 1, same value format) |
//! | `m/last_applied`     | `Option<LogId>`                |
//! | `m/membership`       | `StoredMembership`             |
//! | `m/clock`            | `u64` (`RegionState::clock_ms`) |
//!
//! Every value is [`codec::encode`](crate::codec)d. Loading is strict: an unknown key, a record
//! stored under another record's name or an undecodable value is an error.

use std::collections::BTreeMap;

use keyraft_core::command::RequestId;
use keyraft_core::grants::Grant;
use keyraft_core::multi_region::MrkState;
use keyraft_core::state::{Remembered, Touched};
use keyraft_core::{AccountId, AliasName, AliasRecord, KeyId, KeyRecord, RegionState};

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::types::{LogId, StoredMembership};

pub(crate) const SM_TREE: &str = "state_machine";

const KEY_PREFIX: &str = "k/";
const ALIAS_PREFIX: &str = "a/";
const REQUEST_PREFIX: &str = "r/";
const DELETED_PREFIX: &str = "d/";
const MRK_PREFIX: &str = "g/";
const GRANTS_PREFIX: &str = "t/";
const USAGE_PREFIX: &str = "u/";
const LAST_APPLIED: &str = "m/last_applied";
const MEMBERSHIP: &str = "m/membership";
const CLOCK: &str = "m/clock";

/// Everything the state machine holds: the region's state plus openraft's bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Machine {
    pub state: RegionState,
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

fn key_key(id: &KeyId) -> String {
    format!("{KEY_PREFIX}{id}")
}

fn alias_key(name: &AliasName) -> String {
    format!("{ALIAS_PREFIX}{name}")
}

fn request_key(id: &RequestId) -> String {
    let mut s = String::with_capacity(REQUEST_PREFIX.len() + 32);
    s.push_str(REQUEST_PREFIX);
    for b in id.0 {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn parse_request_id(hex: &str) -> Option<RequestId> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = hex.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(RequestId(out))
}

/// Reads the whole tree back into memory.
pub(crate) fn load(tree: &sled::Tree) -> Result<Machine, StoreError> {
    let mut m = Machine::default();
    for kv in tree.iter() {
        let (k, v) = kv?;
        let key = std::str::from_utf8(&k)
            .map_err(|_| StoreError::corrupt("state machine key", format!("not UTF-8: {k:?}")))?;
        if let Some(id) = key.strip_prefix(KEY_PREFIX) {
            let record: KeyRecord = decode("key record", &v)?;
            if record.id.as_str() != id {
                return Err(StoreError::corrupt("key record", format!("{} stored as {key}", record.id)));
            }
            m.state.keys.insert(record.id.clone(), record);
        } else if let Some(name) = key.strip_prefix(ALIAS_PREFIX) {
            let record: AliasRecord = decode("alias record", &v)?;
            if record.name.as_str() != name {
                return Err(StoreError::corrupt("alias record", format!("{} stored as {key}", record.name)));
            }
            m.state.aliases.insert(record.name.clone(), record);
        } else if let Some(hex) = key.strip_prefix(REQUEST_PREFIX) {
            let id =
                parse_request_id(hex).ok_or_else(|| StoreError::corrupt("request id", format!("bad key {key}")))?;
            let remembered: Remembered = decode("remembered request", &v)?;
            m.state.requests.insert(id, remembered);
        } else if let Some(id) = key.strip_prefix(DELETED_PREFIX) {
            let id = KeyId::parse(id).map_err(|_| StoreError::corrupt("tombstone", format!("bad key {key}")))?;
            let account: AccountId = decode("tombstone", &v)?;
            m.state.deleted.insert(id, account);
        } else if let Some(id) = key.strip_prefix(MRK_PREFIX) {
            let id =
                KeyId::parse(id).map_err(|_| StoreError::corrupt("multi-region state", format!("bad key {key}")))?;
            let state: MrkState = decode("multi-region state", &v)?;
            m.state.multi_region.insert(id, state);
        } else if let Some(id) = key.strip_prefix(GRANTS_PREFIX) {
            let id = KeyId::parse(id).map_err(|_| StoreError::corrupt("grants", format!("bad key {key}")))?;
            let grants: BTreeMap<String, Grant> = decode("grants", &v)?;
            if grants.values().any(|g| g.key != id) {
                return Err(StoreError::corrupt("grants", format!("a grant of another key stored as {key}")));
            }
            m.state.grants.insert(id, grants);
        } else if let Some(id) = key.strip_prefix(USAGE_PREFIX) {
            let id = KeyId::parse(id).map_err(|_| StoreError::corrupt("key usage", format!("bad key {key}")))?;
            m.state.usage.insert(id, decode("key usage", &v)?);
        } else if key == LAST_APPLIED {
            m.last_applied = decode("last applied log id", &v)?;
        } else if key == MEMBERSHIP {
            m.membership = decode("membership", &v)?;
        } else if key == CLOCK {
            m.state.clock_ms = decode("clock", &v)?;
        } else {
            return Err(StoreError::corrupt("state machine key", format!("unknown key {key}")));
        }
    }
    Ok(m)
}

fn put_meta(batch: &mut sled::Batch, m: &Machine, membership: bool) -> Result<(), StoreError> {
    batch.insert(LAST_APPLIED, encode("last applied log id", &m.last_applied)?);
    if membership {
        batch.insert(MEMBERSHIP, encode("membership", &m.membership)?);
    }
    batch.insert(CLOCK, encode("clock", &m.state.clock_ms)?);
    Ok(())
}

/// Adds to `batch` exactly the records `touched` names, as they are now in `m` (removed when
/// absent), plus last-applied, the clock, and the membership if `membership_changed`.
pub(crate) fn write_touched(
    batch: &mut sled::Batch,
    m: &Machine,
    touched: &Touched,
    membership_changed: bool,
) -> Result<(), StoreError> {
    let mut keys: Vec<&KeyId> = touched.keys.iter().collect();
    keys.sort_unstable();
    keys.dedup();
    for id in keys {
        match m.state.keys.get(id) {
            Some(r) => batch.insert(key_key(id).as_bytes(), encode("key record", r)?),
            None => batch.remove(key_key(id).as_bytes()),
        }
    }
    let mut aliases: Vec<&AliasName> = touched.aliases.iter().collect();
    aliases.sort_unstable();
    aliases.dedup();
    for name in aliases {
        match m.state.aliases.get(name) {
            Some(r) => batch.insert(alias_key(name).as_bytes(), encode("alias record", r)?),
            None => batch.remove(alias_key(name).as_bytes()),
        }
    }
    let mut requests: Vec<&RequestId> = touched.requests.iter().collect();
    requests.sort_unstable();
    requests.dedup();
    for id in requests {
        match m.state.requests.get(id) {
            Some(r) => batch.insert(request_key(id).as_bytes(), encode("remembered request", r)?),
            None => batch.remove(request_key(id).as_bytes()),
        }
    }
    let mut deleted: Vec<&KeyId> = touched.deleted.iter().collect();
    deleted.sort_unstable();
    deleted.dedup();
    for id in deleted {
        let k = format!("{DELETED_PREFIX}{id}");
        match m.state.deleted.get(id) {
            Some(a) => batch.insert(k.as_bytes(), encode("tombstone", a)?),
            None => batch.remove(k.as_bytes()),
        }
    }
    let mut mrks: Vec<&KeyId> = touched.multi_region.iter().collect();
    mrks.sort_unstable();
    mrks.dedup();
    for id in mrks {
        let k = format!("{MRK_PREFIX}{id}");
        match m.state.multi_region.get(id) {
            Some(s) => batch.insert(k.as_bytes(), encode("multi-region state", s)?),
            None => batch.remove(k.as_bytes()),
        }
    }
    let mut grants: Vec<&KeyId> = touched.grants.iter().collect();
    grants.sort_unstable();
    grants.dedup();
    for id in grants {
        let k = format!("{GRANTS_PREFIX}{id}");
        match m.state.grants.get(id) {
            Some(g) => batch.insert(k.as_bytes(), encode("grants", g)?),
            None => batch.remove(k.as_bytes()),
        }
    }
    let mut usage: Vec<&KeyId> = touched.usage.iter().collect();
    usage.sort_unstable();
    usage.dedup();
    for id in usage {
        let k = format!("{USAGE_PREFIX}{id}");
        match m.state.usage.get(id) {
            Some(u) => batch.insert(k.as_bytes(), encode("key usage", u)?),
            None => batch.remove(k.as_bytes()),
        }
    }
    put_meta(batch, m, membership_changed)
}

/// Builds one batch that replaces everything in `tree` by `m`.
pub(crate) fn rewrite_all(tree: &sled::Tree, m: &Machine) -> Result<sled::Batch, StoreError> {
    let mut batch = sled::Batch::default();
    // Removals first: a later insert of the same key in the batch wins.
    for key in tree.iter().keys() {
        batch.remove(key?);
    }
    for (id, r) in &m.state.keys {
        batch.insert(key_key(id).as_bytes(), encode("key record", r)?);
    }
    for (name, r) in &m.state.aliases {
        batch.insert(alias_key(name).as_bytes(), encode("alias record", r)?);
    }
    for (id, r) in &m.state.requests {
        batch.insert(request_key(id).as_bytes(), encode("remembered request", r)?);
    }
    for (id, a) in &m.state.deleted {
        batch.insert(format!("{DELETED_PREFIX}{id}").as_bytes(), encode("tombstone", a)?);
    }
    for (id, s) in &m.state.multi_region {
        batch.insert(format!("{MRK_PREFIX}{id}").as_bytes(), encode("multi-region state", s)?);
    }
    for (id, g) in &m.state.grants {
        batch.insert(format!("{GRANTS_PREFIX}{id}").as_bytes(), encode("grants", g)?);
    }
    for (id, u) in &m.state.usage {
        batch.insert(format!("{USAGE_PREFIX}{id}").as_bytes(), encode("key usage", u)?);
    }
    put_meta(&mut batch, m, true)?;
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_roundtrip_through_their_key() {
        let id = RequestId([0x00, 0x01, 0x7f, 0x80, 0xff, 0xab, 0xcd, 0xef, 1, 2, 3, 4, 5, 6, 7, 8]);
        let key = request_key(&id);
        assert_eq!(key, "r/00017f80ffabcdef0102030405060708");
        assert_eq!(parse_request_id(&key[2..]), Some(id));
        assert_eq!(format!("{id:?}"), key[2..]);
        for bad in ["", "00", "zz017f80ffabcdef0102030405060708", "00017F80ffabcdef0102030405060708"] {
            assert_eq!(parse_request_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn damaged_tree_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree(SM_TREE).unwrap();
        assert_eq!(load(&tree).unwrap(), Machine::default());

        tree.insert("x/unknown", encode("u", &1u64).unwrap()).unwrap();
        assert!(matches!(load(&tree), Err(StoreError::Corrupt { .. })));
        tree.clear().unwrap();

        tree.insert("k/1234abcd-12ab-34cd-56ef-1234567890ab", b"\x01junk".to_vec()).unwrap();
        assert!(matches!(load(&tree), Err(StoreError::Decode { .. })));
        tree.clear().unwrap();

        tree.insert("r/nothex", encode("u", &1u64).unwrap()).unwrap();
        assert!(matches!(load(&tree), Err(StoreError::Corrupt { .. })));
        tree.clear().unwrap();

        tree.insert(CLOCK, vec![99, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert!(matches!(load(&tree), Err(StoreError::FormatVersion { found: 99, .. })));
    }
}
