//! Rotation of a symmetric key's backing material: the schedule, the record of completed
//! rotations, and the deterministic apply of `Command::RotateKey`.
//!
//! As in AWS KMS: the first automatic rotation is due `RotationPeriodInDays` after rotation was
//! enabled and then every period after each automatic rotation; on-demand rotations do not move
//! that schedule; a key that is not enabled is not rotated automatically (once it is enabled
//! again an overdue rotation happens at once). At most [`MAX_ON_DEMAND`] on-demand rotations per
//! key. A multi-region key rotates in its primary region; the new version is staged in every replica
//! region before it encrypts (`multi_region.rs`, invariant M2).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::ids::KeyId;
use crate::lifecycle;
use crate::model::{KeyRecord, KeySpec, KeyState, Origin, WrappedMaterial};
use crate::state::RegionState;

/// On-demand rotations per key (AWS: 25, not adjustable).
pub const MAX_ON_DEMAND: usize = 25;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// AWS `RotationType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RotationType {
    Automatic,
    OnDemand,
}

impl RotationType {
    /// The name AWS uses on the wire.
    pub fn as_aws(&self) -> &'static str {
        match self {
            RotationType::Automatic => "AUTOMATIC",
            RotationType::OnDemand => "ON_DEMAND",
        }
    }
}

impl fmt::Display for RotationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_aws())
    }
}

/// One completed rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRecord {
    /// State-machine time of the rotation (ms since the epoch).
    pub date_ms: u64,
    pub kind: RotationType,
    /// The backing-key version the rotation created.
    pub version: u32,
}

/// A key's rotation schedule and history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotation {
    /// When the next automatic rotation is due, while automatic rotation is enabled.
    pub next_ms: Option<u64>,
    /// Completed rotations, oldest first.
    pub history: Vec<RotationRecord>,
}

impl KeyRotation {
    pub fn on_demand_count(&self) -> usize {
        self.history.iter().filter(|r| r.kind == RotationType::OnDemand).count()
    }
}

fn unsupported_kind(k: &KeyRecord) -> Option<CoreError> {
    if k.spec != KeySpec::SymmetricDefault || k.origin != Origin::AwsKms {
        return Some(CoreError::Unsupported(format!("{} does not support key rotation.", k.arn())));
    }
    None
}

/// RotateKeyOnDemand: symmetric AWS_KMS single-region keys, enabled, under the quota.
pub fn check_rotate_on_demand(k: &KeyRecord) -> Result<(), CoreError> {
    if let Some(e) = unsupported_kind(k) {
        return Err(e);
    }
    lifecycle::check_crypto(k)?;
    if k.rotation.on_demand_count() >= MAX_ON_DEMAND {
        return Err(CoreError::LimitExceeded(format!(
            "{} has reached the maximum of {MAX_ON_DEMAND} on-demand rotations.",
            k.arn()
        )));
    }
    Ok(())
}

/// ListKeyRotations: symmetric AWS_KMS keys only, in any readable state.
pub fn check_list_rotations(k: &KeyRecord) -> Result<(), CoreError> {
    if k.spec != KeySpec::SymmetricDefault || k.origin != Origin::AwsKms {
        return Err(CoreError::Unsupported(format!("{} does not support key rotation.", k.arn())));
    }
    lifecycle::check_read(k)
}

/// The next backing-key version of `k`.
pub fn next_version(k: &KeyRecord) -> u32 {
    k.material.iter().map(|m| m.version).max().unwrap_or(0).saturating_add(1)
}

/// Applies EnableKeyRotation (`Some(days)`) or DisableKeyRotation (`None`) to the schedule.
/// Enabling schedules the first rotation a period from now; changing the period of an enabled
/// key keeps the schedule's anchor (the last automatic rotation, or when rotation was enabled).
pub(crate) fn set_period(k: &mut KeyRecord, period_days: Option<u32>, now: u64) {
    k.rotation.next_ms = match (k.rotation_period_days, k.rotation.next_ms, period_days) {
        (_, _, None) => None,
        (Some(old), Some(next), Some(new)) => {
            Some(next.saturating_sub(u64::from(old) * DAY_MS).saturating_add(u64::from(new) * DAY_MS))
        }
        (_, _, Some(new)) => Some(now.saturating_add(u64::from(new) * DAY_MS)),
    };
    k.rotation_period_days = period_days;
}

/// Applies `Command::RotateKey`. An automatic rotation names the due date it was proposed for and
/// is applied only if that is still the key's schedule and due at this entry's time, so that a
/// second proposal (a new leader's) for the same period changes nothing.
pub(crate) fn apply_rotate(
    k: &mut KeyRecord,
    kind: RotationType,
    material: &WrappedMaterial,
    due_ms: Option<u64>,
    now: u64,
) -> Result<(), CoreError> {
    match kind {
        RotationType::OnDemand => check_rotate_on_demand(k)?,
        RotationType::Automatic => {
            let due = due_ms.filter(|d| {
                unsupported_kind(k).is_none()
                    && k.state == KeyState::Enabled
                    && k.rotation_period_days.is_some()
                    && k.rotation.next_ms == Some(*d)
                    && *d <= now
            });
            if due.is_none() {
                return Err(CoreError::InvalidStateMessage(format!("{} is not due for rotation", k.arn())));
            }
        }
    }
    if material.version != next_version(k) {
        return Err(CoreError::InvalidStateMessage(format!(
            "{} was rotated concurrently; retry the rotation",
            k.arn()
        )));
    }
    let mut m = material.clone();
    m.created_ms = now;
    k.material.push(m);
    k.current_version = material.version;
    k.rotation.history.push(RotationRecord { date_ms: now, kind, version: material.version });
    if kind == RotationType::Automatic {
        k.rotation.next_ms = k.rotation_period_days.map(|d| now.saturating_add(u64::from(d) * DAY_MS));
    }
    Ok(())
}

impl RegionState {
    /// Keys whose automatic rotation is due at `now_ms`, with the due date to propose
    /// `RotateKey` for.
    pub fn due_for_rotation(&self, now_ms: u64) -> Vec<(KeyId, u64)> {
        self.keys
            .values()
            .filter(|k| {
                k.state == KeyState::Enabled
                    && k.rotation_period_days.is_some()
                    && unsupported_kind(k).is_none()
                    // A multi-region key rotates in its primary region only (and ships the
                    // new version to its replicas).
                    && crate::multi_region::state_of(&self.multi_region, k)
                        .is_none_or(|m| m.accepts_shared_changes(&k.region) && m.staged.is_none())
            })
            .filter_map(|k| k.rotation.next_ms.filter(|d| *d <= now_ms).map(|d| (k.id.clone(), d)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Envelope, RequestId};
    use crate::ids::{AccountId, Region};
    use crate::state::Touched;

    const T0: u64 = 1_700_000_000_000;

    fn record(multi_region: bool) -> KeyRecord {
        KeyRecord {
            multi_region,
            material: vec![material(1)],
            ..KeyRecord::new(
                if multi_region { KeyId::mrk_from_bytes([1; 16]) } else { KeyId::from_uuid_bytes([1; 16]) },
                AccountId::parse("111122223333").unwrap(),
                Region::parse("us-east-1").unwrap(),
            )
        }
    }

    fn material(version: u32) -> WrappedMaterial {
        WrappedMaterial { version, created_ms: 0, wrapped: vec![version as u8; 61], public_key: None }
    }

    struct Region1 {
        s: RegionState,
        id: KeyId,
        n: u8,
    }

    impl Region1 {
        fn new(multi_region: bool) -> Self {
            let mut r = Region1 { s: RegionState::default(), id: record(multi_region).id, n: 0 };
            r.apply(T0, Command::CreateKey { record: Box::new(record(multi_region)) }).unwrap();
            r
        }

        fn apply(&mut self, time_ms: u64, command: Command) -> Result<(), CoreError> {
            self.n += 1;
            let env = Envelope { request_id: RequestId([self.n; 16]), time_ms, command };
            self.s.apply(&env, &mut Touched::default()).map(|_| ())
        }

        fn rotate(
            &mut self,
            time_ms: u64,
            kind: RotationType,
            version: u32,
            due_ms: Option<u64>,
        ) -> Result<(), CoreError> {
            self.apply(time_ms, Command::RotateKey { key: self.id.clone(), kind, material: material(version), due_ms })
        }

        fn key(&self) -> &KeyRecord {
            &self.s.keys[&self.id]
        }
    }

    #[test]
    fn automatic_rotation_happens_once_per_period_whoever_proposes_it() {
        let mut r = Region1::new(false);
        r.apply(T0, Command::SetRotation { key: r.id.clone(), period_days: Some(90) }).unwrap();
        let due = T0 + 90 * DAY_MS;
        assert_eq!(r.key().rotation.next_ms, Some(due));
        assert_eq!(r.s.due_for_rotation(due - 1), vec![]);
        assert_eq!(r.s.due_for_rotation(due), vec![(r.id.clone(), due)]);
        // Proposed early (a leader with a fast clock, stamped before the due date): refused.
        assert!(r.rotate(due - 1, RotationType::Automatic, 2, Some(due)).is_err());
        r.rotate(due + 5, RotationType::Automatic, 2, Some(due)).unwrap();
        // A second leader's proposal for the same period, with its own material and either
        // version number: refused, nothing changes.
        let before = r.s.keys.clone();
        assert!(r.rotate(due + 10, RotationType::Automatic, 2, Some(due)).is_err());
        assert!(r.rotate(due + 10, RotationType::Automatic, 3, Some(due)).is_err());
        assert_eq!(r.s.keys, before);
        let k = r.key();
        assert_eq!((k.current_version, k.material.len(), k.rotation.history.len()), (2, 2, 1));
        assert_eq!(
            k.rotation.history[0],
            RotationRecord { date_ms: due + 5, kind: RotationType::Automatic, version: 2 }
        );
        assert_eq!(k.material[1].created_ms, due + 5);
        assert_eq!(k.rotation.next_ms, Some(due + 5 + 90 * DAY_MS));
        assert_eq!(r.s.due_for_rotation(due + 10), vec![]);
    }

    #[test]
    fn disabled_keys_are_not_rotated_until_enabled_again() {
        let mut r = Region1::new(false);
        r.apply(T0, Command::SetRotation { key: r.id.clone(), period_days: Some(90) }).unwrap();
        r.apply(T0, Command::SetEnabled { key: r.id.clone(), enabled: false }).unwrap();
        let due = T0 + 90 * DAY_MS;
        assert_eq!(r.s.due_for_rotation(due + DAY_MS), vec![]);
        assert!(r.rotate(due + DAY_MS, RotationType::Automatic, 2, Some(due)).is_err());
        r.apply(due + 2 * DAY_MS, Command::SetEnabled { key: r.id.clone(), enabled: true }).unwrap();
        assert_eq!(r.s.due_for_rotation(due + 2 * DAY_MS), vec![(r.id.clone(), due)]);
        // Disabling automatic rotation drops the schedule; enabling it again starts a new one.
        r.apply(due + 2 * DAY_MS, Command::SetRotation { key: r.id.clone(), period_days: None }).unwrap();
        assert_eq!(r.s.due_for_rotation(u64::MAX), vec![]);
        r.apply(due + 3 * DAY_MS, Command::SetRotation { key: r.id.clone(), period_days: Some(100) }).unwrap();
        assert_eq!(r.key().rotation.next_ms, Some(due + 103 * DAY_MS));
        // Changing the period keeps the anchor (here: when rotation was enabled).
        r.apply(due + 4 * DAY_MS, Command::SetRotation { key: r.id.clone(), period_days: Some(365) }).unwrap();
        assert_eq!(r.key().rotation.next_ms, Some(due + 368 * DAY_MS));
    }

    #[test]
    fn on_demand_rotation_limits_and_states() {
        let mut r = Region1::new(false);
        r.apply(T0, Command::SetRotation { key: r.id.clone(), period_days: Some(90) }).unwrap();
        let next = r.key().rotation.next_ms;
        for v in 2..=26 {
            r.rotate(T0 + u64::from(v), RotationType::OnDemand, v, None).unwrap();
        }
        assert_eq!(r.key().current_version, 26);
        assert_eq!(r.key().rotation.next_ms, next, "on-demand rotations do not move the schedule");
        assert!(matches!(r.rotate(T0 + 100, RotationType::OnDemand, 27, None), Err(CoreError::LimitExceeded(_))));
        // A stale version (another rotation got there first) is refused.
        let mut r = Region1::new(false);
        r.rotate(T0, RotationType::OnDemand, 2, None).unwrap();
        assert!(matches!(r.rotate(T0, RotationType::OnDemand, 2, None), Err(CoreError::InvalidStateMessage(_))));
        r.apply(T0, Command::SetEnabled { key: r.id.clone(), enabled: false }).unwrap();
        assert!(matches!(r.rotate(T0, RotationType::OnDemand, 3, None), Err(CoreError::Disabled(_))));
        r.apply(T0, Command::SetEnabled { key: r.id.clone(), enabled: true }).unwrap();
        r.apply(T0, Command::ScheduleDeletion { key: r.id.clone(), window_days: 7 }).unwrap();
        assert!(matches!(r.rotate(T0, RotationType::OnDemand, 3, None), Err(CoreError::InvalidState { .. })));
        // A multi-region key without replicas rotates at once; with replicas the new version is
        // staged until every replica region acknowledged it (M2).
        let mut mrk = Region1::new(true);
        mrk.rotate(T0, RotationType::OnDemand, 2, None).unwrap();
        assert_eq!(mrk.key().current_version, 2);
        let eu = Region::parse("eu-west-1").unwrap();
        let init = crate::multi_region::ReplicaInit::default();
        mrk.apply(T0, Command::ReplicateKey { key: mrk.id.clone(), region: eu.clone(), init }).unwrap();
        mrk.rotate(T0 + 1, RotationType::OnDemand, 3, None).unwrap();
        assert_eq!(mrk.key().current_version, 2, "staged, not current");
        assert!(mrk.key().material(3).is_some());
        assert!(matches!(mrk.rotate(T0 + 2, RotationType::OnDemand, 4, None), Err(CoreError::Conflict(_))));
        let m = mrk.s.multi_region[&mrk.id].clone();
        let staged = m.staged.clone().unwrap();
        assert_eq!(staged.material_version, 3);
        // An acknowledgement of an older shared version does not activate it.
        let id = mrk.id.clone();
        let ack =
            |version| Command::ReplicaAcked { key: id.clone(), region: eu.clone(), epoch: m.epoch.clone(), version };
        mrk.apply(T0 + 3, ack(staged.shared_version - 1)).unwrap();
        assert_eq!(mrk.key().current_version, 2);
        mrk.apply(T0 + 4, ack(staged.shared_version)).unwrap();
        assert_eq!(mrk.key().current_version, 3, "active once the replica holds it");
        let after = &mrk.s.multi_region[&mrk.id];
        assert!(after.staged.is_none());
        assert_eq!(after.version, staged.shared_version + 1, "the activation is itself shipped");
    }

    #[test]
    fn deletion_leaves_a_tombstone() {
        let mut r = Region1::new(false);
        r.apply(T0, Command::ScheduleDeletion { key: r.id.clone(), window_days: 7 }).unwrap();
        let mut touched = Touched::default();
        let env = Envelope {
            request_id: RequestId([99; 16]),
            time_ms: T0 + 7 * DAY_MS,
            command: Command::DeleteKey { key: r.id.clone() },
        };
        r.s.apply(&env, &mut touched).unwrap();
        assert!(r.s.keys.is_empty());
        assert_eq!(r.s.deleted.get(&r.id), Some(&record(false).account));
        assert_eq!(touched.deleted, vec![r.id.clone()]);
        // A second DeleteKey (another leader's) finds nothing to delete.
        let again = Envelope { request_id: RequestId([100; 16]), ..env };
        assert!(matches!(r.s.apply(&again, &mut Touched::default()), Err(CoreError::NotFound(_))));
    }
}
