//! Restore of a region from a backup: the contents a backup carries into a fresh region, their
//! consistency check, and the apply of [`Command::Restore`](crate::Command::Restore).
//!
//! A restore replaces the region's contents only while the region holds no key, alias or grant,
//! so it can never overwrite or merge with live keys. It is an ordinary Raft command: built
//! completely before proposing (the backup file opened, checked and decoded by the proposing
//! node), deterministic in apply, idempotent by request id. The contents carry wrapped material
//! only, never plaintext.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::{Applied, ApplyResult};
use crate::error::CoreError;
use crate::grants::Grant;
use crate::ids::{AccountId, AliasName, KeyId, Region};
use crate::model::{AliasRecord, KeyRecord};
use crate::multi_region::MrkState;
use crate::state::{RegionState, Touched};
use crate::usage::LastUsage;

/// Everything of a region's state a backup restores: the state without its remembered request
/// ids (they name requests made to the backed-up region, not to this one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionContents {
    pub keys: BTreeMap<KeyId, KeyRecord>,
    pub aliases: BTreeMap<AliasName, AliasRecord>,
    pub deleted: BTreeMap<KeyId, AccountId>,
    pub multi_region: BTreeMap<KeyId, MrkState>,
    pub grants: BTreeMap<KeyId, BTreeMap<String, Grant>>,
    pub usage: BTreeMap<KeyId, LastUsage>,
    /// The backed-up region's state-machine time.
    pub clock_ms: u64,
}

impl RegionContents {
    /// The contents of `state` (everything but the remembered request ids).
    pub fn of(state: &RegionState) -> Self {
        RegionContents {
            keys: state.keys.clone(),
            aliases: state.aliases.clone(),
            deleted: state.deleted.clone(),
            multi_region: state.multi_region.clone(),
            grants: state.grants.clone(),
            usage: state.usage.clone(),
            clock_ms: state.clock_ms,
        }
    }

    /// The contents of `state`, taken apart (its remembered request ids dropped).
    pub fn from_state(state: RegionState) -> Self {
        RegionContents {
            keys: state.keys,
            aliases: state.aliases,
            deleted: state.deleted,
            multi_region: state.multi_region,
            grants: state.grants,
            usage: state.usage,
            clock_ms: state.clock_ms,
        }
    }

    /// A region state holding these contents and no remembered request ids.
    pub fn into_state(self) -> RegionState {
        RegionState {
            keys: self.keys,
            aliases: self.aliases,
            requests: BTreeMap::new(),
            clock_ms: self.clock_ms,
            deleted: self.deleted,
            multi_region: self.multi_region,
            grants: self.grants,
            usage: self.usage,
        }
    }

    /// Checks that the contents belong to `region` and hang together: every key of `region`,
    /// every alias, grant, multi-region state and usage naming a key the contents hold.
    pub fn check(&self, region: &Region) -> Result<(), CoreError> {
        let invalid = |m: String| Err(CoreError::Validation(m));
        for (id, k) in &self.keys {
            if &k.id != id {
                return invalid(format!("key {} is stored as {id}", k.id));
            }
            if &k.region != region {
                return invalid(format!("key {id} belongs to region {}, not {region}", k.region));
            }
        }
        for (name, a) in &self.aliases {
            if &a.name != name || !self.keys.contains_key(&a.target) {
                return invalid(format!("alias {name} does not name a key of the backup"));
            }
        }
        for (id, grants) in &self.grants {
            if !self.keys.contains_key(id) || grants.iter().any(|(gid, g)| &g.key != id || &g.id != gid) {
                return invalid(format!("grants of {id} do not belong to a key of the backup"));
            }
        }
        if let Some(id) = self.multi_region.keys().chain(self.usage.keys()).find(|id| !self.keys.contains_key(*id)) {
            return invalid(format!("state of {id} does not belong to a key of the backup"));
        }
        Ok(())
    }
}

/// Applies a restore: refused unless the region holds no key, alias or grant; then the region
/// holds the contents (tombstones are merged; the clock only moves forward).
pub(crate) fn apply_restore(s: &mut RegionState, c: &RegionContents, now: u64, touched: &mut Touched) -> ApplyResult {
    let grants = s.grants.values().map(BTreeMap::len).sum::<usize>();
    if !s.keys.is_empty() || !s.aliases.is_empty() || grants > 0 {
        return Err(CoreError::Conflict(format!(
            "The region is not empty ({} keys, {} aliases, {grants} grants): a backup restores only into a \
             region that holds no key, alias or grant",
            s.keys.len(),
            s.aliases.len()
        )));
    }
    // What the region still holds (state of no key: normally nothing) goes; the contents come.
    touched.multi_region.extend(s.multi_region.keys().cloned());
    touched.usage.extend(s.usage.keys().cloned());
    touched.grants.extend(s.grants.keys().cloned());
    s.multi_region.clone_from(&c.multi_region);
    s.usage.clone_from(&c.usage);
    s.grants.clone_from(&c.grants);
    s.keys.clone_from(&c.keys);
    s.aliases.clone_from(&c.aliases);
    touched.keys.extend(c.keys.keys().cloned());
    touched.aliases.extend(c.aliases.keys().cloned());
    touched.multi_region.extend(c.multi_region.keys().cloned());
    touched.usage.extend(c.usage.keys().cloned());
    touched.grants.extend(c.grants.keys().cloned());
    for (id, account) in &c.deleted {
        if !s.keys.contains_key(id) {
            s.deleted.insert(id.clone(), account.clone());
            touched.deleted.push(id.clone());
        }
    }
    for id in c.keys.keys() {
        if s.deleted.remove(id).is_some() {
            touched.deleted.push(id.clone());
        }
    }
    s.clock_ms = now.max(c.clock_ms);
    Ok(Applied::Unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Envelope, RequestId};

    fn region() -> Region {
        Region::parse("us-east-1").unwrap()
    }

    fn record(id: u8) -> KeyRecord {
        KeyRecord::new(KeyId::from_uuid_bytes([id; 16]), AccountId::parse("111122223333").unwrap(), region())
    }

    fn env(id: u8, time_ms: u64, command: Command) -> Envelope {
        Envelope { request_id: RequestId([id; 16]), time_ms, command }
    }

    fn source() -> RegionState {
        let mut s = RegionState::default();
        let mut t = Touched::default();
        s.apply(&env(1, 10, Command::CreateKey { record: Box::new(record(1)) }), &mut t).unwrap();
        s.apply(&env(2, 20, Command::CreateKey { record: Box::new(record(2)) }), &mut t).unwrap();
        let alias = AliasName::parse("alias/a").unwrap();
        s.apply(&env(3, 30, Command::CreateAlias { alias, key: record(1).id }), &mut t).unwrap();
        s.deleted.insert(KeyId::from_uuid_bytes([9; 16]), AccountId::parse("111122223333").unwrap());
        s
    }

    #[test]
    fn restore_fills_an_empty_region_once_and_refuses_a_non_empty_one() {
        let contents = RegionContents::of(&source());
        contents.check(&region()).unwrap();
        let restore = env(7, 5, Command::Restore { contents: Box::new(contents.clone()) });
        let mut fresh = RegionState::default();
        let mut t = Touched::default();
        assert_eq!(fresh.apply(&restore, &mut t), Ok(Applied::Unit));
        assert_eq!(fresh.keys, contents.keys);
        assert_eq!(fresh.aliases, contents.aliases);
        assert_eq!(fresh.deleted, contents.deleted);
        assert_eq!(fresh.clock_ms, 30, "the clock never goes back behind the restored records");
        assert_eq!(t.keys.len(), 2);
        assert_eq!(t.aliases.len(), 1);
        assert_eq!(t.deleted.len(), 1);
        // The same request again answers the first outcome; a new one is refused, unchanged.
        let after = fresh.clone();
        assert_eq!(fresh.apply(&restore, &mut Touched::default()), Ok(Applied::Unit));
        let again = env(8, 40, Command::Restore { contents: Box::new(contents) });
        assert!(matches!(fresh.apply(&again, &mut Touched::default()), Err(CoreError::Conflict(_))));
        assert_eq!(fresh.keys, after.keys);
        assert_eq!(fresh.aliases, after.aliases);
    }

    #[test]
    fn check_refuses_another_region_and_dangling_records() {
        let contents = RegionContents::of(&source());
        assert!(contents.check(&Region::parse("eu-west-1").unwrap()).is_err());
        let mut dangling = contents.clone();
        dangling.keys.remove(&record(1).id);
        assert!(dangling.check(&region()).is_err());
    }

    #[test]
    fn restore_command_round_trips_through_json() {
        // The Raft transport carries commands as JSON: the contents' maps need string keys.
        let cmd = Command::Restore { contents: Box::new(RegionContents::of(&source())) };
        let json = serde_json::to_string(&cmd).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), cmd);
    }
}
