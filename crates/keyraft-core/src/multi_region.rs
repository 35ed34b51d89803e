//! Multi-region keys (MRKs): the per-key replication state every region holds, and the
//! deterministic apply of the replication commands.
//!
//! Per MRK each region that holds it stores a [`MrkState`]: the **epoch** (a counter plus the
//! primary region it names), the **shared version** (raised by every change of a shared property),
//! the replica list, and — in the region that made the latest shared change — the outbox: the
//! version each other region has acknowledged. The shared properties themselves (material, spec,
//! usage, origin, rotation setting) live in the region's `KeyRecord`.
//!
//! Invariants (ARCHITECTURE.md, "Multi-region keys"):
//! - M1: only the primary named by the key's current epoch accepts shared changes; epochs are
//!   ordered by `(n, primary)`, so two regions promoted from the same view never share one.
//! - M3: a shared change is acknowledged to the client only once every destination committed it.
//! - M5: a region applies a shared state only if its `(epoch, version)` is newer than what it
//!   holds, so delivery may be repeated and reordered and still converges.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::ids::{AccountId, KeyId, Region};
use crate::model::{KeyRecord, KeySpec, KeyState, KeyUsage, Origin, WrappedMaterial};

/// How many recent shared changes a region keeps (for the "not carried over" report).
pub const MAX_CHANGES: usize = 32;

/// A primary epoch: raised by every change of primary, naming that primary and the region that
/// made the change. Ordered by `(n, primary, by)`: epochs made independently from the same view
/// — two regions promoting themselves, or a handover racing a forced promotion of the same
/// region — are distinct, and the higher one wins everywhere. A region creates an epoch only
/// above every epoch it holds, so `(n, primary, by)` names one history.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Epoch {
    pub n: u64,
    pub primary: Region,
    /// The region that made the epoch (the old primary for a handover, the promoted region for
    /// a forced promotion, the primary itself at creation).
    pub by: Region,
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.by == self.primary {
            write!(f, "{}@{}", self.n, self.primary)
        } else {
            write!(f, "{}@{} (handed over by {})", self.n, self.primary, self.by)
        }
    }
}

/// One change of a shared property, as remembered for reporting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedChange {
    /// The epoch the change was made in; with `version` it names the change (M1: one writer
    /// per epoch).
    pub epoch: Epoch,
    pub version: u64,
    pub time_ms: u64,
    pub what: String,
}

/// A shared change a region made as primary that was superseded by a forced promotion elsewhere
/// before it reached the promoted region: it was never acknowledged to a client (M3) and is
/// not carried over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostChange {
    pub change: SharedChange,
    /// The epoch of the state that replaced it.
    pub superseded_by: Epoch,
}

/// The per-region properties a new replica starts with (ReplicateKey's Description, Policy,
/// Tags).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaInit {
    pub description: String,
    pub policy: String,
    pub tags: BTreeMap<String, String>,
}

/// What a region holds about one multi-region key besides its `KeyRecord`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrkState {
    pub epoch: Epoch,
    /// The shared version: raised by every change of a shared property.
    pub version: u64,
    /// Replica regions (the primary not included).
    pub replicas: BTreeSet<Region>,
    /// The outbox of the region that made the latest shared change (normally the primary): the
    /// shared version each other region has acknowledged. A destination is pending while its
    /// entry is below `version`.
    pub acked: BTreeMap<Region, u64>,
    /// Per-region properties for replicas being created, shipped with their first message.
    pub replica_init: BTreeMap<Region, ReplicaInit>,
    /// Set once a higher epoch was learned from another region: this region no longer accepts
    /// shared changes for the key nor ships its state, and waits for the new primary's state.
    pub fenced_by: Option<Epoch>,
    /// The shared version at which the current epoch began.
    pub epoch_base: u64,
    /// The latest shared changes, oldest first (at most [`MAX_CHANGES`]).
    pub changes: Vec<SharedChange>,
    /// Shared changes this region made as primary that a forced promotion did not carry over.
    pub lost: Vec<LostChange>,
    /// Primary only: a new backing-key version shipped to the replicas but not yet used to
    /// encrypt (M2); it becomes current once every replica acknowledged `shared_version`.
    pub staged: Option<Staged>,
}

/// A rotation being staged in the replica regions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staged {
    pub material_version: u32,
    pub shared_version: u64,
}

impl MrkState {
    /// A new primary key's state (CreateKey MultiRegion=true).
    pub fn new_primary(region: Region, now: u64) -> Self {
        MrkState {
            epoch: Epoch { n: 1, primary: region.clone(), by: region.clone() },
            version: 1,
            replicas: BTreeSet::new(),
            acked: BTreeMap::new(),
            replica_init: BTreeMap::new(),
            fenced_by: None,
            epoch_base: 0,
            changes: vec![SharedChange {
                epoch: Epoch { n: 1, primary: region.clone(), by: region },
                version: 1,
                time_ms: now,
                what: "created".into(),
            }],
            lost: Vec::new(),
            staged: None,
        }
    }

    /// Whether `region` may make shared changes (M1).
    pub fn accepts_shared_changes(&self, region: &Region) -> bool {
        self.epoch.primary == *region && self.fenced_by.is_none()
    }

    /// The region `region` should ping, if any: the primary that fenced it, or — if the key's
    /// current state does not list `region` as a member — that state's primary. The primary
    /// re-admits a non-member that pings it (`apply_incoming`), so no region is left behind.
    pub fn ping_target(&self, region: &Region) -> Option<&Region> {
        match &self.fenced_by {
            Some(by) if &by.primary != region => Some(&by.primary),
            Some(_) => None,
            None if &self.epoch.primary != region && !self.replicas.contains(region) => Some(&self.epoch.primary),
            None => None,
        }
    }

    /// Destinations still to be sent the current shared state.
    pub fn pending(&self) -> impl Iterator<Item = (&Region, u64)> {
        self.acked.iter().filter(|(_, v)| **v < self.version).map(|(r, v)| (r, *v))
    }

    /// Every region that holds the key: primary and replicas.
    pub fn members(&self) -> BTreeSet<Region> {
        let mut m = self.replicas.clone();
        m.insert(self.epoch.primary.clone());
        m
    }

    /// Records a shared change made by `region`: raises the version and queues the new state for
    /// every other member.
    pub(crate) fn bump(&mut self, region: &Region, now: u64, what: String) {
        self.version += 1;
        for m in self.members() {
            if &m != region {
                // A new destination has acknowledged nothing (0): a staged rotation must not count
                // it as holding anything (M2).
                self.acked.entry(m).or_insert(0);
            }
        }
        self.acked.retain(|r, _| r != region);
        self.changes.push(SharedChange { epoch: self.epoch.clone(), version: self.version, time_ms: now, what });
        if self.changes.len() > MAX_CHANGES {
            let cut = self.changes.len() - MAX_CHANGES;
            self.changes.drain(..cut);
        }
    }
}

/// The shared state of an MRK as one region sends it to another: everything the destination
/// needs to create or update its replica. Material is wrapped under the *destination's* root key
/// (the receiving node re-wraps it before proposing; it crosses regions only sealed to the
/// destination's transport key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedState {
    pub key: KeyId,
    pub account: AccountId,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub origin: Origin,
    pub material: Vec<WrappedMaterial>,
    pub current_version: u32,
    pub rotation_period_days: Option<u32>,
    pub rotation: crate::rotation::KeyRotation,
    pub epoch: Epoch,
    pub version: u64,
    pub replicas: BTreeSet<Region>,
    pub epoch_base: u64,
    pub changes: Vec<SharedChange>,
    /// The per-region properties of replicas not yet acknowledged as created: the destination
    /// uses its own entry if it has no replica yet; every region keeps them, so that a later
    /// primary (after a handover or promotion) can still create those replicas.
    pub inits: BTreeMap<Region, ReplicaInit>,
}

/// What a region answers to a shared state: what it holds after applying it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicaAnswer {
    Holds {
        epoch: Epoch,
        version: u64,
    },
    /// The destination does not hold the key and will not: it deleted its replica, or it is
    /// not a member of the shipped state (a region a superseded epoch meant to add).
    NotHeld,
}

/// The MRK state of `k` (a key created before this state existed counts as a primary of epoch 1
/// in its own region with no replicas).
pub fn state_of(states: &BTreeMap<KeyId, MrkState>, k: &KeyRecord) -> Option<MrkState> {
    if !k.multi_region {
        return None;
    }
    Some(states.get(&k.id).cloned().unwrap_or_else(|| MrkState::new_primary(k.region.clone(), k.creation_ms)))
}

/// Refuses a shared change unless `k`'s region is the key's current, unfenced primary.
pub fn check_primary(k: &KeyRecord, m: &MrkState) -> Result<(), CoreError> {
    if let Some(by) = &m.fenced_by {
        return Err(CoreError::InvalidStateMessage(format!(
            "{} is fenced: region {} was promoted to primary (epoch {by}); this region no longer accepts changes to shared properties of the key",
            k.arn(),
            by.primary
        )));
    }
    if m.epoch.primary != k.region {
        return Err(CoreError::Unsupported(format!(
            "{} is a multi-Region replica key; change shared properties on its primary key in {}.",
            k.arn(),
            m.epoch.primary
        )));
    }
    Ok(())
}

/// ReplicateKey, on the primary: adds `dest` to the replica list.
pub(crate) fn apply_replicate(
    k: &KeyRecord,
    m: &mut MrkState,
    dest: &Region,
    init: &ReplicaInit,
    now: u64,
) -> Result<(), CoreError> {
    check_primary(k, m)?;
    crate::lifecycle::check_manage(k)?;
    if dest == &k.region || m.replicas.contains(dest) {
        return Err(CoreError::AlreadyExists(format!("Region {dest} already holds a replica of {}", k.id)));
    }
    m.replicas.insert(dest.clone());
    m.replica_init.insert(dest.clone(), init.clone());
    m.bump(&k.region, now, format!("replica added in {dest}"));
    Ok(())
}

/// UpdatePrimaryRegion, on the current primary: hands the primary role to the replica in `to`
/// (epoch + 1). From the commit on, this region is a replica and refuses shared changes; `to`
/// accepts them once the handover reached it.
pub(crate) fn apply_handover(k: &KeyRecord, m: &mut MrkState, to: &Region, now: u64) -> Result<(), CoreError> {
    check_primary(k, m)?;
    crate::lifecycle::check_manage(k)?;
    if to == &k.region {
        return Err(CoreError::Unsupported(format!("{} is already the primary key in {to}.", k.arn())));
    }
    if !m.replicas.contains(to) {
        return Err(CoreError::NotFound(format!("Region {to} does not hold a replica of {}", k.id)));
    }
    if let Some(st) = &m.staged {
        return Err(CoreError::InvalidStateMessage(format!(
            "{} is being rotated: backing key version {} is not yet in every replica region; retry UpdatePrimaryRegion once it is",
            k.arn(),
            st.material_version
        )));
    }
    m.replicas.remove(to);
    m.replicas.insert(k.region.clone());
    m.epoch = Epoch { n: m.epoch.n + 1, primary: to.clone(), by: k.region.clone() };
    m.epoch_base = m.version;
    m.bump(&k.region, now, format!("primary region changed from {} to {to}", k.region));
    Ok(())
}

/// Forced DR promotion, in the region of `k` (a replica): makes it primary at a higher epoch
/// from the shared state it holds. The old primary is fenced when it learns the new epoch.
pub(crate) fn apply_force_promote(k: &KeyRecord, m: &mut MrkState, now: u64) -> Result<(), CoreError> {
    if m.epoch.primary == k.region && m.fenced_by.is_none() {
        return Err(CoreError::InvalidStateMessage(format!(
            "{} is already the primary key (epoch {}).",
            k.arn(),
            m.epoch
        )));
    }
    let old = m.epoch.primary.clone();
    let n = m.epoch.n.max(m.fenced_by.as_ref().map_or(0, |e| e.n)) + 1;
    m.replicas.insert(old.clone());
    m.replicas.remove(&k.region);
    m.epoch = Epoch { n, primary: k.region.clone(), by: k.region.clone() };
    m.fenced_by = None;
    m.epoch_base = m.version;
    m.acked.clear();
    // A rotation this region staged in a superseded epoch is not activated by the new one.
    m.staged = None;
    m.bump(&k.region, now, format!("forced promotion of {} (previous primary {old})", k.region));
    Ok(())
}

/// An acknowledgement from `dest` of the state this region sent in `epoch`. Once every replica
/// holds a staged backing-key version, it becomes current (M2) — itself a shared change.
pub(crate) fn apply_acked(k: &mut KeyRecord, m: &mut MrkState, dest: &Region, epoch: &Epoch, version: u64, now: u64) {
    if &m.epoch != epoch {
        return;
    }
    if let Some(v) = m.acked.get_mut(dest) {
        *v = (*v).max(version.min(m.version));
    }
    if m.acked.get(dest).is_some_and(|v| *v >= m.version) {
        m.replica_init.remove(dest);
    }
    activate_if_everywhere(k, m, now);
}

/// Makes a staged backing-key version current once every replica acknowledged it.
fn activate_if_everywhere(k: &mut KeyRecord, m: &mut MrkState, now: u64) {
    if let Some(st) = m.staged.clone() {
        let everywhere = m.replicas.iter().all(|r| m.acked.get(r).is_some_and(|v| *v >= st.shared_version));
        if everywhere && m.accepts_shared_changes(&k.region) {
            k.current_version = st.material_version;
            m.staged = None;
            m.bump(&k.region, now, format!("backing key version {} activated", st.material_version));
        }
    }
}

/// `dest` answered that it deleted its replica: the primary drops it from the replica list (a
/// shared change, shipped to the other replicas). A primary waiting in PendingReplicaDeletion
/// whose last replica is gone starts its own waiting period, as AWS does.
pub(crate) fn apply_replica_gone(k: &mut KeyRecord, m: &mut MrkState, dest: &Region, epoch: &Epoch, now: u64) {
    if &m.epoch != epoch || !m.accepts_shared_changes(&k.region) {
        return;
    }
    // Not (or no longer) a member: just stop sending to it.
    m.acked.remove(dest);
    m.replica_init.remove(dest);
    if !m.replicas.remove(dest) {
        return;
    }
    m.bump(&k.region, now, format!("replica in {dest} deleted"));
    activate_if_everywhere(k, m, now);
    if m.replicas.is_empty() && k.state == KeyState::PendingReplicaDeletion {
        let days = u64::from(k.pending_window_days.unwrap_or(30));
        k.state = KeyState::PendingDeletion;
        k.deletion_ms = Some(now.saturating_add(days * 24 * 60 * 60 * 1000));
    }
}

/// The multi-region state a shared change of `k` updates: `None` for a single-region key; an
/// error if this region may not make shared changes (a replica, a fenced old primary).
pub fn for_shared_change(states: &BTreeMap<KeyId, MrkState>, k: &KeyRecord) -> Result<Option<MrkState>, CoreError> {
    match state_of(states, k) {
        None => Ok(None),
        Some(m) => {
            check_primary(k, &m)?;
            Ok(Some(m))
        }
    }
}

/// Another region answered with a higher epoch: stop accepting shared changes and shipping.
pub(crate) fn apply_fenced(m: &mut MrkState, by: &Epoch) {
    if by > &m.epoch && m.fenced_by.as_ref().is_none_or(|f| by > f) {
        m.fenced_by = Some(by.clone());
    }
}

/// A shared state from region `from`, applied in `region`. Returns the record and state to
/// store (`None`: nothing to change) and the answer.
///
/// A stale state from a region that is not a member of the key as this region (the current
/// primary) knows it — a region left behind by a superseded epoch, e.g. a replica created by a
/// primary that was fenced, or a region that promoted itself and lost — re-admits that region
/// as a replica (a shared change), so that it is sent the current state and converges (M5).
pub(crate) fn apply_incoming(
    region: &Region,
    from: &Region,
    existing: Option<(&KeyRecord, MrkState)>,
    s: &SharedState,
    now: u64,
) -> Result<(Option<(KeyRecord, MrkState)>, ReplicaAnswer), CoreError> {
    let member = s.epoch.primary == *region || s.replicas.contains(region);
    if let Some((k, _)) = &existing {
        if k.account != s.account {
            return Err(CoreError::Validation(format!("{} belongs to another account in {region}", s.key)));
        }
    }
    match existing {
        None => {
            if !member {
                return Ok((None, ReplicaAnswer::NotHeld));
            }
            // A replica is created only by a member of the state it is created from (its
            // primary, or the old primary handing over).
            if from != &s.epoch.primary && !s.replicas.contains(from) {
                return Err(CoreError::Validation(format!(
                    "{from} is not a member of {} and cannot create a replica of it",
                    s.key
                )));
            }
            let init = s.inits.get(region).cloned().ok_or_else(|| {
                CoreError::Validation(format!("{} has no replica in {region} and the message creates none", s.key))
            })?;
            let mut material = s.material.clone();
            for mt in &mut material {
                mt.created_ms = mt.created_ms.min(now);
            }
            let record = KeyRecord {
                description: init.description,
                creation_ms: now,
                state: if s.origin == Origin::External && material.is_empty() {
                    KeyState::PendingImport
                } else {
                    KeyState::Enabled
                },
                spec: s.spec,
                usage: s.usage,
                origin: s.origin,
                multi_region: true,
                tags: init.tags,
                policies: [("default".to_string(), init.policy)].into(),
                rotation_period_days: s.rotation_period_days,
                material,
                current_version: s.current_version,
                rotation: s.rotation.clone(),
                ..KeyRecord::new(s.key.clone(), s.account.clone(), region.clone())
            };
            let state = adopt(region, None, s);
            let answer = ReplicaAnswer::Holds { epoch: state.epoch.clone(), version: state.version };
            Ok((Some((record, state)), answer))
        }
        Some((k, held)) => {
            if (&s.epoch, s.version) <= (&held.epoch, held.version) {
                if held.accepts_shared_changes(region) && from != region && !held.members().contains(from) {
                    let mut m = held;
                    m.replicas.insert(from.clone());
                    m.bump(region, now, format!("replica in {from} re-admitted (it held a superseded history)"));
                    let answer = ReplicaAnswer::Holds { epoch: m.epoch.clone(), version: m.version };
                    return Ok((Some((k.clone(), m)), answer));
                }
                return Ok((None, ReplicaAnswer::Holds { epoch: held.epoch, version: held.version }));
            }
            let mut k = k.clone();
            if s.epoch == held.epoch {
                // The same history, further on: the material only grew.
                for mt in &s.material {
                    if k.material(mt.version).is_none() {
                        k.material.push(mt.clone());
                    }
                }
            } else {
                // Another epoch's history: its material is the key's material. A version only
                // this region had was staged here and never current (activation needs every
                // replica's acknowledgement in this region's epoch, which the region that moved
                // the key on never gave), so nothing was encrypted under it; it is reported in
                // `lost` through the change that staged it.
                k.material = s.material.clone();
            }
            k.material.sort_by_key(|mt| mt.version);
            k.current_version = s.current_version;
            k.rotation_period_days = s.rotation_period_days;
            k.rotation = s.rotation.clone();
            let state = adopt(region, Some(held), s);
            let answer = ReplicaAnswer::Holds { epoch: state.epoch.clone(), version: state.version };
            Ok((Some((k, state)), answer))
        }
    }
}

/// The state a region keeps after adopting `s`. A region that was primary and is superseded by a
/// higher epoch reports its changes above the new epoch's base as not carried over.
fn adopt(region: &Region, held: Option<MrkState>, s: &SharedState) -> MrkState {
    let mut lost = Vec::new();
    if let Some(h) = &held {
        lost = h.lost.clone();
        if s.epoch != h.epoch {
            // Changes this region held that the new history does not contain did not carry
            // over. Only the window both lists cover can be compared (they keep the latest
            // MAX_CHANGES).
            let known = |c: &SharedChange| s.changes.iter().any(|x| x.epoch == c.epoch && x.version == c.version);
            let window_start =
                if s.changes.len() >= MAX_CHANGES { s.changes.first().map_or(0, |c| c.version) } else { 0 };
            for c in h.changes.iter().filter(|c| c.version >= window_start && !known(c)) {
                if !lost.iter().any(|l: &LostChange| l.change.epoch == c.epoch && l.change.version == c.version) {
                    lost.push(LostChange { change: c.clone(), superseded_by: s.epoch.clone() });
                }
            }
        }
    }
    // A region that becomes primary by this message re-sends the state to every member (the
    // old primary may not have reached them all).
    let mut acked: BTreeMap<Region, u64> = if s.epoch.primary == *region {
        let mut members = s.replicas.clone();
        members.remove(region);
        members.into_iter().map(|r| (r, 0)).collect()
    } else {
        BTreeMap::new()
    };
    // Regions this one knew as members that the new history does not list (e.g. a replica its
    // superseded epoch created) are sent the new state too: they learn they were left behind
    // and ask the primary to re-admit them (`ReplicaAnswer`/`ping_target`).
    if let Some(h) = &held {
        let new_members = {
            let mut m = s.replicas.clone();
            m.insert(s.epoch.primary.clone());
            m
        };
        for r in h.members() {
            if &r != region && !new_members.contains(&r) {
                acked.insert(r, 0);
            }
        }
    }
    MrkState {
        epoch: s.epoch.clone(),
        version: s.version,
        replicas: s.replicas.clone(),
        acked,
        replica_init: s.inits.iter().filter(|(r, _)| *r != region).map(|(r, i)| (r.clone(), i.clone())).collect(),
        fenced_by: None,
        epoch_base: s.epoch_base,
        changes: s.changes.clone(),
        lost,
        staged: None,
    }
}

/// The shared state of `k` to send to another region, material as stored here (the caller
/// re-wraps it for the destination).
pub fn outgoing(k: &KeyRecord, m: &MrkState) -> SharedState {
    SharedState {
        key: k.id.clone(),
        account: k.account.clone(),
        spec: k.spec,
        usage: k.usage,
        origin: k.origin,
        material: k.material.clone(),
        current_version: k.current_version,
        rotation_period_days: k.rotation_period_days,
        rotation: k.rotation.clone(),
        epoch: m.epoch.clone(),
        version: m.version,
        replicas: m.replicas.clone(),
        epoch_base: m.epoch_base,
        changes: m.changes.clone(),
        inits: m.replica_init.clone(),
    }
}
