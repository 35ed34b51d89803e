//! The region's key state and the deterministic apply.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::{Applied, ApplyResult, Command, Envelope, RequestId};
use crate::error::CoreError;
use crate::grants::{self, Grant};
use crate::ids::{AccountId, AliasName, KeyId};
use crate::lifecycle;
use crate::model::{AliasRecord, KeyRecord, KeyState};
use crate::multi_region::{self as mrk, MrkState, ReplicaAnswer};
use crate::usage::LastUsage;

/// How long an idempotency id is remembered, in state-machine time.
pub const DEDUPE_WINDOW_MS: u64 = 15 * 60 * 1000;
/// How often (in state-machine time) expired idempotency ids are swept.
const SWEEP_EVERY_MS: u64 = 60 * 1000;
/// Tags per key (AWS: 50).
pub const MAX_TAGS: usize = 50;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// A remembered result for an idempotency id: what the command returned, by reference (a full
/// `KeyRecord` per write would multiply the state's size for the whole dedupe window).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub time_ms: u64,
    pub result: Result<AppliedRef, CoreError>,
}

/// [`Applied`] by reference. A retried command answers with the key or alias as it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppliedRef {
    Unit,
    Key(KeyId),
    Alias(AliasName),
    /// Appended after format 1's variants (bincode numbers them in order).
    Replica(crate::multi_region::ReplicaAnswer),
    /// A grant id (appended with grants).
    Grant(String),
}

impl AppliedRef {
    fn of(a: &Applied) -> Self {
        match a {
            Applied::Unit => AppliedRef::Unit,
            Applied::Key(k) => AppliedRef::Key(k.id.clone()),
            Applied::Alias(a) => AppliedRef::Alias(a.name.clone()),
            Applied::Replica(r) => AppliedRef::Replica(r.clone()),
            Applied::Grant(id) => AppliedRef::Grant(id.clone()),
        }
    }
}

/// Everything one region's Raft group agrees on about keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionState {
    pub keys: BTreeMap<KeyId, KeyRecord>,
    pub aliases: BTreeMap<AliasName, AliasRecord>,
    pub requests: BTreeMap<RequestId, Remembered>,
    /// The latest time stamp applied; apply time never goes backwards.
    pub clock_ms: u64,
    /// Tombstones: keys deleted after their waiting period, with their account, so that their
    /// ciphertexts answer NotFound rather than "not a ciphertext of this region".
    pub deleted: BTreeMap<KeyId, AccountId>,
    /// Multi-region keys: epoch, shared version, replica list and outbox per key
    /// (`multi_region.rs`). Added in snapshot format 2.
    pub multi_region: BTreeMap<KeyId, MrkState>,
    /// Grants by key, then by grant id (`grants.rs`). Added in snapshot format 3.
    pub grants: BTreeMap<KeyId, BTreeMap<String, Grant>>,
    /// The last cryptographic use of each key (`usage.rs`). Added in snapshot format 3.
    pub usage: BTreeMap<KeyId, LastUsage>,
}

/// What an apply changed, so that a store can persist just that.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    pub keys: Vec<KeyId>,
    pub aliases: Vec<AliasName>,
    pub requests: Vec<RequestId>,
    pub deleted: Vec<KeyId>,
    pub multi_region: Vec<KeyId>,
    /// Keys whose grants changed.
    pub grants: Vec<KeyId>,
    /// Keys whose last usage changed.
    pub usage: Vec<KeyId>,
}

impl RegionState {
    /// Applies one command. Deterministic: the result depends only on `self` and `env`.
    pub fn apply(&mut self, env: &Envelope, touched: &mut Touched) -> ApplyResult {
        let before = self.clock_ms;
        let now = before.max(env.time_ms);
        self.clock_ms = now;
        // Forget idempotency ids older than the window, once per minute of state-machine time
        // (a scan per apply would cost O(remembered ids) on every write). Deterministic: it
        // depends only on the replicated clock. Lookups ignore expired ids either way.
        if now / SWEEP_EVERY_MS != before / SWEEP_EVERY_MS {
            let expired: Vec<RequestId> =
                self.requests.iter().filter(|(_, r)| r.time_ms + DEDUPE_WINDOW_MS < now).map(|(id, _)| *id).collect();
            for id in expired {
                self.requests.remove(&id);
                touched.requests.push(id);
            }
        }
        if let Some(prev) = self.requests.get(&env.request_id).filter(|r| r.time_ms + DEDUPE_WINDOW_MS >= now) {
            return match &prev.result {
                Err(e) => Err(e.clone()),
                Ok(AppliedRef::Unit) => Ok(Applied::Unit),
                Ok(AppliedRef::Key(id)) => {
                    Ok(self.keys.get(id).map_or(Applied::Unit, |k| Applied::Key(Box::new(k.clone()))))
                }
                Ok(AppliedRef::Alias(name)) => {
                    Ok(self.aliases.get(name).map_or(Applied::Unit, |a| Applied::Alias(a.clone())))
                }
                Ok(AppliedRef::Replica(r)) => Ok(Applied::Replica(r.clone())),
                Ok(AppliedRef::Grant(id)) => Ok(Applied::Grant(id.clone())),
            };
        }
        let result = self.apply_command(&env.command, now, touched);
        let remembered = result.as_ref().map(AppliedRef::of).map_err(Clone::clone);
        self.requests.insert(env.request_id, Remembered { time_ms: now, result: remembered });
        touched.requests.push(env.request_id);
        result
    }

    fn key_mut(&mut self, id: &KeyId) -> Result<&mut KeyRecord, CoreError> {
        self.keys.get_mut(id).ok_or_else(|| CoreError::NotFound(format!("Key '{id}' does not exist")))
    }

    fn apply_command(&mut self, cmd: &Command, now: u64, touched: &mut Touched) -> ApplyResult {
        match cmd {
            Command::CreateKey { record } => {
                if self.keys.contains_key(&record.id) {
                    return Err(CoreError::AlreadyExists(format!("Key '{}' already exists", record.id)));
                }
                let mut record = record.as_ref().clone();
                record.creation_ms = now;
                for m in &mut record.material {
                    m.created_ms = now;
                }
                touched.keys.push(record.id.clone());
                if record.multi_region {
                    self.multi_region.insert(record.id.clone(), MrkState::new_primary(record.region.clone(), now));
                    touched.multi_region.push(record.id.clone());
                }
                self.keys.insert(record.id.clone(), record.clone());
                Ok(Applied::Key(Box::new(record)))
            }
            Command::UpdateDescription { key, description } => {
                let k = self.key_mut(key)?;
                lifecycle::check_manage(k)?;
                k.description = description.clone();
                touched.keys.push(key.clone());
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::SetEnabled { key, enabled } => {
                let k = self.key_mut(key)?;
                lifecycle::check_enable_disable(k)?;
                k.state = if *enabled { KeyState::Enabled } else { KeyState::Disabled };
                touched.keys.push(key.clone());
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::ScheduleDeletion { key, window_days } => {
                // AWS: a multi-region primary with replicas waits in PendingReplicaDeletion
                // (indefinitely) instead of starting its waiting period.
                let has_replicas = self
                    .keys
                    .get(key)
                    .and_then(|k| mrk::state_of(&self.multi_region, k).map(|m| (k.region.clone(), m)))
                    .is_some_and(|(region, m)| m.epoch.primary == region && !m.replicas.is_empty());
                let k = self.key_mut(key)?;
                lifecycle::check_manage(k)?;
                if has_replicas {
                    k.state = KeyState::PendingReplicaDeletion;
                    k.deletion_ms = None;
                } else {
                    k.state = KeyState::PendingDeletion;
                    k.deletion_ms = Some(now + u64::from(*window_days) * DAY_MS);
                }
                k.pending_window_days = Some(*window_days);
                touched.keys.push(key.clone());
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::CancelDeletion { key } => {
                let k = self.key_mut(key)?;
                if !matches!(k.state, KeyState::PendingDeletion | KeyState::PendingReplicaDeletion) {
                    return Err(CoreError::InvalidState { arn: k.arn().to_string(), state: k.state });
                }
                // An EXTERNAL key without material goes back to PendingImport (AWS).
                k.state = if k.origin == crate::model::Origin::External && k.material.is_empty() {
                    KeyState::PendingImport
                } else {
                    KeyState::Disabled
                };
                k.deletion_ms = None;
                k.pending_window_days = None;
                touched.keys.push(key.clone());
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::DeleteKey { key } => {
                let k = self.key_mut(key)?;
                let due = k.state == KeyState::PendingDeletion && k.deletion_ms.is_some_and(|d| d <= now);
                if !due {
                    return Err(CoreError::InvalidStateMessage(format!("{} is not due for deletion", k.arn())));
                }
                if let Some(gone) = self.keys.remove(key) {
                    self.deleted.insert(key.clone(), gone.account);
                    touched.deleted.push(key.clone());
                }
                if self.multi_region.remove(key).is_some() {
                    touched.multi_region.push(key.clone());
                }
                if self.grants.remove(key).is_some() {
                    touched.grants.push(key.clone());
                }
                if self.usage.remove(key).is_some() {
                    touched.usage.push(key.clone());
                }
                touched.keys.push(key.clone());
                let gone: Vec<AliasName> =
                    self.aliases.iter().filter(|(_, a)| &a.target == key).map(|(n, _)| n.clone()).collect();
                for n in gone {
                    self.aliases.remove(&n);
                    touched.aliases.push(n);
                }
                Ok(Applied::Unit)
            }
            Command::CreateAlias { alias, key } => {
                let target =
                    self.keys.get(key).ok_or_else(|| CoreError::NotFound(format!("Key '{key}' does not exist")))?;
                lifecycle::check_manage(target)?;
                if self.aliases.contains_key(alias) {
                    return Err(CoreError::AlreadyExists(format!(
                        "An alias with the name {} already exists",
                        crate::ids::alias_arn(&target.region, &target.account, alias)
                    )));
                }
                let rec =
                    AliasRecord { name: alias.clone(), target: key.clone(), creation_ms: now, last_updated_ms: now };
                self.aliases.insert(alias.clone(), rec.clone());
                touched.aliases.push(alias.clone());
                Ok(Applied::Alias(rec))
            }
            Command::UpdateAlias { alias, key } => {
                let new_target =
                    self.keys.get(key).ok_or_else(|| CoreError::NotFound(format!("Key '{key}' does not exist")))?;
                lifecycle::check_manage(new_target)?;
                let (spec, usage) = (new_target.spec, new_target.usage);
                let current = self
                    .aliases
                    .get(alias)
                    .ok_or_else(|| CoreError::NotFound(format!("Alias {alias} is not found.")))?;
                if let Some(old) = self.keys.get(&current.target) {
                    if old.spec != spec || old.usage != usage {
                        return Err(CoreError::Validation(format!(
                            "Alias {alias} cannot be changed to a key of a different key spec or key usage"
                        )));
                    }
                }
                let rec = AliasRecord { target: key.clone(), last_updated_ms: now, ..current.clone() };
                self.aliases.insert(alias.clone(), rec.clone());
                touched.aliases.push(alias.clone());
                Ok(Applied::Alias(rec))
            }
            Command::DeleteAlias { alias } => {
                if self.aliases.remove(alias).is_none() {
                    return Err(CoreError::NotFound(format!("Alias {alias} is not found.")));
                }
                touched.aliases.push(alias.clone());
                Ok(Applied::Unit)
            }
            Command::TagResource { key, tags } => {
                let k = self.key_mut(key)?;
                lifecycle::check_manage(k)?;
                let mut next = k.tags.clone();
                for (tk, tv) in tags {
                    next.insert(tk.clone(), tv.clone());
                }
                if next.len() > MAX_TAGS {
                    return Err(CoreError::LimitExceeded(format!(
                        "The request would exceed the limit of {MAX_TAGS} tags for this key"
                    )));
                }
                k.tags = next;
                touched.keys.push(key.clone());
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::UntagResource { key, tag_keys } => {
                let k = self.key_mut(key)?;
                lifecycle::check_manage(k)?;
                for tk in tag_keys {
                    k.tags.remove(tk);
                }
                touched.keys.push(key.clone());
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::PutKeyPolicy { key, name, policy } => {
                let k = self.key_mut(key)?;
                lifecycle::check_manage(k)?;
                k.policies.insert(name.clone(), policy.clone());
                touched.keys.push(key.clone());
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::SetRotation { key, period_days } => {
                let mrk = self.for_shared_change(key)?;
                let k = self.key_mut(key)?;
                lifecycle::check_rotation_change(k)?;
                crate::rotation::set_period(k, *period_days, now);
                touched.keys.push(key.clone());
                let out = Applied::Key(Box::new(k.clone()));
                if let Some(mut m) = mrk {
                    let what = match period_days {
                        Some(d) => format!("automatic rotation every {d} days"),
                        None => "automatic rotation disabled".into(),
                    };
                    m.bump(&k.region.clone(), now, what);
                    self.put_mrk(key, m, touched);
                }
                Ok(out)
            }
            Command::RotateKey { key, kind, material, due_ms } => {
                let mrk = self.for_shared_change(key)?;
                if let Some(st) = mrk.as_ref().and_then(|m| m.staged.as_ref()) {
                    return Err(CoreError::Conflict(format!(
                        "Key '{key}' is being rotated: backing key version {} is not yet in every replica region",
                        st.material_version
                    )));
                }
                let k = self.key_mut(key)?;
                let previous = k.current_version;
                crate::rotation::apply_rotate(k, *kind, material, *due_ms, now)?;
                touched.keys.push(key.clone());
                if let Some(mut m) = mrk {
                    let region = k.region.clone();
                    if m.replicas.is_empty() {
                        m.bump(&region, now, format!("backing key version {} added and activated", material.version));
                    } else {
                        // M2: the new version encrypts only once every replica region holds it.
                        k.current_version = previous;
                        m.bump(&region, now, format!("backing key version {} staged", material.version));
                        m.staged = Some(mrk::Staged { material_version: material.version, shared_version: m.version });
                    }
                    let out = Applied::Key(Box::new(k.clone()));
                    self.put_mrk(key, m, touched);
                    return Ok(out);
                }
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::ImportKeyMaterial { key, material, commitment, valid_to_ms } => {
                let k = self.key_mut(key)?;
                crate::import::apply_import(k, material, commitment, *valid_to_ms, now)?;
                touched.keys.push(key.clone());
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::DeleteImportedKeyMaterial { key, expired_ms } => {
                let k = self.key_mut(key)?;
                crate::import::apply_delete(k, *expired_ms, now)?;
                touched.keys.push(key.clone());
                Ok(Applied::Key(Box::new(k.clone())))
            }
            Command::CreateGrant { grant } => {
                let k = self
                    .keys
                    .get(&grant.key)
                    .ok_or_else(|| CoreError::NotFound(format!("Key '{}' does not exist", grant.key)))?;
                grants::check_create(k)?;
                grants::validate(k, grant)?;
                let mut grant = grant.as_ref().clone();
                grant.creation_ms = now;
                let id = grants::insert(self.grants.entry(grant.key.clone()).or_default(), grant)?;
                touched.grants.push(k.id.clone());
                Ok(Applied::Grant(id))
            }
            Command::RetireGrant { key, grant_id } | Command::RevokeGrant { key, grant_id } => {
                let removed = self.grants.get_mut(key).and_then(|g| g.remove(grant_id));
                if removed.is_none() {
                    return Err(CoreError::NotFound(format!("Grant ID {grant_id} not found")));
                }
                if self.grants.get(key).is_some_and(BTreeMap::is_empty) {
                    self.grants.remove(key);
                }
                touched.grants.push(key.clone());
                Ok(Applied::Unit)
            }
            Command::RecordUsage { entries } => {
                for (key, used) in entries {
                    if !self.keys.contains_key(key) || self.usage.get(key).is_some_and(|u| !used.newer_than(u)) {
                        continue;
                    }
                    self.usage.insert(key.clone(), used.clone());
                    touched.usage.push(key.clone());
                }
                Ok(Applied::Unit)
            }
            Command::Restore { contents } => crate::restore::apply_restore(self, contents, now, touched),
            Command::ReplicateKey { key, region, init } => {
                self.change_mrk(key, touched, |k, m| mrk::apply_replicate(k, m, region, init, now))
            }
            Command::UpdatePrimaryRegion { key, region } => {
                self.change_mrk(key, touched, |k, m| mrk::apply_handover(k, m, region, now))
            }
            Command::ForcePromote { key } => self.change_mrk(key, touched, |k, m| mrk::apply_force_promote(k, m, now)),
            Command::ReplicaAcked { key, region, epoch, version } => self.change_mrk(key, touched, |k, m| {
                mrk::apply_acked(k, m, region, epoch, *version, now);
                Ok(())
            }),
            Command::ReplicaGone { key, region, epoch } => self.change_mrk(key, touched, |k, m| {
                mrk::apply_replica_gone(k, m, region, epoch, now);
                Ok(())
            }),
            Command::Fenced { key, by } => self.change_mrk(key, touched, |_, m| {
                mrk::apply_fenced(m, by);
                Ok(())
            }),
            Command::ApplyReplica { region, from, state } => {
                if self.deleted.contains_key(&state.key) && !self.keys.contains_key(&state.key) {
                    return Ok(Applied::Replica(ReplicaAnswer::NotHeld));
                }
                let existing = self.keys.get(&state.key).and_then(|k| {
                    let m = mrk::state_of(&self.multi_region, k)?;
                    Some((k, m))
                });
                if self.keys.contains_key(&state.key) && existing.is_none() {
                    return Err(CoreError::AlreadyExists(format!(
                        "Key '{}' exists in {region} and is not a multi-Region key",
                        state.key
                    )));
                }
                let (change, answer) = mrk::apply_incoming(region, from, existing, state, now)?;
                if let Some((record, m)) = change {
                    touched.keys.push(record.id.clone());
                    touched.multi_region.push(record.id.clone());
                    self.multi_region.insert(record.id.clone(), m);
                    self.keys.insert(record.id.clone(), record);
                }
                Ok(Applied::Replica(answer))
            }
        }
    }

    /// The MRK state a shared change of `key` updates (`None` for a single-region key).
    fn for_shared_change(&self, key: &KeyId) -> Result<Option<MrkState>, CoreError> {
        let k = self.keys.get(key).ok_or_else(|| CoreError::NotFound(format!("Key '{key}' does not exist")))?;
        mrk::for_shared_change(&self.multi_region, k)
    }

    fn put_mrk(&mut self, key: &KeyId, m: MrkState, touched: &mut Touched) {
        self.multi_region.insert(key.clone(), m);
        touched.multi_region.push(key.clone());
    }

    /// Applies `f` to a multi-region key and its state; stores both if `f` succeeds. A key that is
    /// not multi-region is refused here, so the `apply_*` functions of `multi_region` need not.
    fn change_mrk(
        &mut self,
        key: &KeyId,
        touched: &mut Touched,
        f: impl FnOnce(&mut KeyRecord, &mut MrkState) -> Result<(), CoreError>,
    ) -> ApplyResult {
        let k = self.keys.get(key).ok_or_else(|| CoreError::NotFound(format!("Key '{key}' does not exist")))?;
        let mut m = mrk::state_of(&self.multi_region, k)
            .ok_or_else(|| CoreError::Unsupported(format!("{} is not a multi-Region key.", k.arn())))?;
        let mut k = k.clone();
        f(&mut k, &mut m)?;
        let out = Applied::Key(Box::new(k.clone()));
        if self.keys.get(key) != Some(&k) {
            self.keys.insert(key.clone(), k);
            touched.keys.push(key.clone());
        }
        self.put_mrk(key, m, touched);
        Ok(out)
    }

    /// Resolves an alias to its key id.
    pub fn alias_target(&self, alias: &AliasName) -> Option<&KeyId> {
        self.aliases.get(alias).map(|a| &a.target)
    }

    /// Keys whose deletion date has passed at `now_ms`: the leader proposes `DeleteKey` for each.
    pub fn due_for_deletion(&self, now_ms: u64) -> Vec<KeyId> {
        self.keys
            .values()
            .filter(|k| k.state == KeyState::PendingDeletion && k.deletion_ms.is_some_and(|d| d <= now_ms))
            .map(|k| k.id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, Region};

    fn record(id: u8) -> KeyRecord {
        KeyRecord::new(
            KeyId::from_uuid_bytes([id; 16]),
            AccountId::parse("111122223333").unwrap(),
            Region::parse("us-east-1").unwrap(),
        )
    }

    fn env(id: u8, time_ms: u64, command: Command) -> Envelope {
        Envelope { request_id: RequestId([id; 16]), time_ms, command }
    }

    #[test]
    fn a_retried_command_applies_once_and_returns_the_first_result() {
        let mut s = RegionState::default();
        let mut t = Touched::default();
        let k = record(1);
        s.apply(&env(1, 10, Command::CreateKey { record: Box::new(k.clone()) }), &mut t).unwrap();
        let alias = AliasName::parse("alias/a").unwrap();
        let create = env(2, 20, Command::CreateAlias { alias: alias.clone(), key: k.id.clone() });
        let first = s.apply(&create, &mut t);
        assert!(first.is_ok());
        // The same request again (a forward retried after a leader change): same answer, no
        // AlreadyExists, state unchanged.
        let before = s.clone();
        assert_eq!(s.apply(&create, &mut t), first);
        assert_eq!(s.aliases, before.aliases);
        // A new request with the same content is a new command and is refused.
        let again = env(3, 30, Command::CreateAlias { alias, key: k.id.clone() });
        assert!(matches!(s.apply(&again, &mut t), Err(CoreError::AlreadyExists(_))));
    }

    #[test]
    fn idempotency_ids_expire_after_the_window_and_are_swept() {
        let mut s = RegionState::default();
        let mut t = Touched::default();
        let id = record(1).id;
        s.apply(&env(1, 1, Command::CreateKey { record: Box::new(record(1)) }), &mut t).unwrap();
        let tag = |time| env(2, time, Command::TagResource { key: id.clone(), tags: vec![("k".into(), "v".into())] });
        s.apply(&tag(2), &mut t).unwrap();
        // Within the window a retry is answered from memory even after other writes.
        let within = DEDUPE_WINDOW_MS;
        s.apply(&env(3, within, Command::SetEnabled { key: id.clone(), enabled: false }), &mut t).unwrap();
        assert!(s.requests.contains_key(&RequestId([2; 16])));
        // Past the window the id is forgotten (and swept at the next minute boundary).
        let after = 2 + DEDUPE_WINDOW_MS + SWEEP_EVERY_MS + 1;
        s.apply(&env(4, after, Command::SetEnabled { key: id.clone(), enabled: true }), &mut t).unwrap();
        assert!(!s.requests.contains_key(&RequestId([2; 16])), "expired id not swept");
        assert!(t.requests.contains(&RequestId([2; 16])), "the sweep must be persisted");
        // A command reusing an expired id is a new command: it is applied.
        let mut s2 = s.clone();
        s2.keys.get_mut(&id).unwrap().tags.clear();
        s2.apply(&tag(after + 1), &mut t).unwrap();
        assert_eq!(s2.keys[&id].tags.len(), 1);
    }

    #[test]
    fn apply_is_deterministic_and_time_never_goes_back() {
        let cmds = [
            env(1, 100, Command::CreateKey { record: Box::new(record(1)) }),
            env(2, 50, Command::SetEnabled { key: record(1).id, enabled: false }),
            env(3, 200, Command::ScheduleDeletion { key: record(1).id, window_days: 7 }),
            env(4, 150, Command::DeleteKey { key: record(1).id }),
        ];
        let run = || {
            let mut s = RegionState::default();
            let results: Vec<ApplyResult> = cmds.iter().map(|c| s.apply(c, &mut Touched::default())).collect();
            (s, results)
        };
        let (a, ra) = run();
        let (b, rb) = run();
        assert_eq!((a.clone(), ra.clone()), (b, rb));
        assert_eq!(a.clock_ms, 200, "a late stamp must not move the clock back");
        // Deletion is not due 150 ms into a 7-day window.
        assert!(matches!(ra[3], Err(CoreError::InvalidStateMessage(_))));
        assert_eq!(a.keys[&record(1).id].state, KeyState::PendingDeletion);
    }

    #[test]
    fn deleting_a_key_removes_its_aliases() {
        let mut s = RegionState::default();
        let mut t = Touched::default();
        let id = record(1).id;
        s.apply(&env(1, 0, Command::CreateKey { record: Box::new(record(1)) }), &mut t).unwrap();
        s.apply(
            &env(2, 0, Command::CreateAlias { alias: AliasName::parse("alias/x").unwrap(), key: id.clone() }),
            &mut t,
        )
        .unwrap();
        s.apply(&env(3, 0, Command::ScheduleDeletion { key: id.clone(), window_days: 7 }), &mut t).unwrap();
        let due = 7 * DAY_MS;
        assert_eq!(s.due_for_deletion(due - 1), vec![]);
        assert_eq!(s.due_for_deletion(due), vec![id.clone()]);
        s.apply(&env(4, due, Command::DeleteKey { key: id.clone() }), &mut t).unwrap();
        assert!(s.keys.is_empty() && s.aliases.is_empty());
    }
}
