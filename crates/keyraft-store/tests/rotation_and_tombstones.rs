//! Rotation history and deleted-key tombstones survive a restart and travel in snapshots.

use std::collections::BTreeSet;
use std::io::Cursor;

use keyraft_core::command::RequestId;
use keyraft_core::rotation::RotationType;
use keyraft_core::state::Touched;
use keyraft_core::{AccountId, Command, Envelope, KeyId, KeyRecord, Region, RegionState, WrappedMaterial};
use keyraft_store::types::{Entry, LogId};
use keyraft_store::StateMachineStore;
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, Membership, RaftSnapshotBuilder};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;
const T0: u64 = 1_700_000_000_000;

fn log_id(term: u64, index: u64) -> LogId {
    openraft::testing::log_id(term, 1, index)
}

fn key_id(n: u8) -> KeyId {
    KeyId::from_uuid_bytes([n; 16])
}

fn material(n: u8, version: u32) -> WrappedMaterial {
    WrappedMaterial { version, created_ms: 0, wrapped: vec![n; 61], public_key: None }
}

fn key_record(n: u8) -> KeyRecord {
    KeyRecord {
        description: format!("key {n}"),
        material: vec![material(n, 1)],
        ..KeyRecord::new(key_id(n), AccountId::parse("111122223333").unwrap(), Region::parse("eu-west-1").unwrap())
    }
}

fn normal(index: u64, time_ms: u64, command: Command) -> Entry {
    Entry {
        log_id: log_id(1, index),
        payload: EntryPayload::Normal(Envelope {
            request_id: RequestId([u8::try_from(index).unwrap(); 16]),
            time_ms,
            command,
        }),
    }
}

/// Two keys; the first is rotated on demand and automatically, the second deleted.
fn entries() -> Vec<Entry> {
    let due = T0 + 90 * DAY_MS;
    vec![
        Entry {
            log_id: log_id(0, 0),
            payload: EntryPayload::Membership(Membership::new(vec![BTreeSet::from([1])], None)),
        },
        normal(1, T0, Command::CreateKey { record: Box::new(key_record(1)) }),
        normal(2, T0, Command::CreateKey { record: Box::new(key_record(2)) }),
        normal(3, T0, Command::SetRotation { key: key_id(1), period_days: Some(90) }),
        normal(
            4,
            T0 + 1,
            Command::RotateKey { key: key_id(1), kind: RotationType::OnDemand, material: material(1, 2), due_ms: None },
        ),
        normal(
            5,
            due,
            Command::RotateKey {
                key: key_id(1),
                kind: RotationType::Automatic,
                material: material(1, 3),
                due_ms: Some(due),
            },
        ),
        normal(6, due, Command::ScheduleDeletion { key: key_id(2), window_days: 7 }),
        normal(7, due + 7 * DAY_MS, Command::DeleteKey { key: key_id(2) }),
    ]
}

fn expected_state(entries: &[Entry]) -> RegionState {
    let mut state = RegionState::default();
    for e in entries {
        if let EntryPayload::Normal(env) = &e.payload {
            state.apply(env, &mut Touched::default()).expect("every entry applies");
        }
    }
    state
}

fn state_of(sm: &StateMachineStore) -> RegionState {
    sm.read(|s| s.clone())
}

#[tokio::test]
async fn rotations_and_tombstones_survive_restart_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let all = entries();
    let want = expected_state(&all);
    assert_eq!(want.keys[&key_id(1)].rotation.history.len(), 2);
    assert_eq!(want.keys[&key_id(1)].material.len(), 3);
    assert!(!want.keys.contains_key(&key_id(2)));
    assert!(want.deleted.contains_key(&key_id(2)));
    let snap = {
        let (_log, mut sm) = keyraft_store::open(dir.path()).unwrap();
        sm.apply(all.clone()).await.unwrap();
        assert_eq!(state_of(&sm), want);
        let snap = sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
        sm.flush().await.unwrap();
        snap
    };
    let (_log, sm) = keyraft_store::open(dir.path()).unwrap();
    assert_eq!(state_of(&sm), want, "after a restart");

    let fresh = tempfile::tempdir().unwrap();
    {
        let (_log, mut follower) = keyraft_store::open(fresh.path()).unwrap();
        let mut rx = follower.begin_receiving_snapshot().await.unwrap();
        *rx = Cursor::new(snap.snapshot.get_ref().clone());
        follower.install_snapshot(&snap.meta, rx).await.unwrap();
        assert_eq!(state_of(&follower), want, "from a snapshot");
    }
    let (_log, follower) = keyraft_store::open(fresh.path()).unwrap();
    assert_eq!(state_of(&follower), want, "an installed snapshot after a restart");
}
