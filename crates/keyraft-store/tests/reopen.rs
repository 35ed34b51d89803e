//! Durability across a restart, and snapshot transfer between stores.

use std::collections::BTreeSet;
use std::io::Cursor;

use keyraft_core::command::RequestId;
use keyraft_core::state::Touched;
use keyraft_core::{
    AccountId, AliasName, Applied, Command, CoreError, Envelope, KeyId, KeyRecord, KeyState, Region, RegionState,
    WrappedMaterial,
};
use keyraft_store::types::{Entry, LogId, Vote};
use keyraft_store::{LogStore, StateMachineStore};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine, StorageHelper};
use openraft::{EntryPayload, Membership, RaftLogReader, RaftSnapshotBuilder};

fn log_id(term: u64, index: u64) -> LogId {
    openraft::testing::log_id(term, 1, index)
}

fn key_id(n: u8) -> KeyId {
    KeyId::from_uuid_bytes([n; 16])
}

fn key_record(n: u8) -> KeyRecord {
    KeyRecord {
        description: format!("key {n}"),
        tags: [("team".to_string(), format!("t{n}"))].into_iter().collect(),
        policies: [("default".to_string(), "{}".to_string())].into_iter().collect(),
        material: vec![WrappedMaterial { version: 1, created_ms: 0, wrapped: vec![n; 60], public_key: None }],
        ..KeyRecord::new(key_id(n), AccountId::parse("111122223333").unwrap(), Region::parse("eu-west-1").unwrap())
    }
}

fn normal(term: u64, index: u64, command: Command) -> Entry {
    let n = u8::try_from(index).unwrap();
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Envelope {
            request_id: RequestId([n; 16]),
            time_ms: 1_700_000_000_000 + index * 1000,
            command,
        }),
    }
}

/// As openraft writes them from index 0: a membership, two blanks, three keys, an alias, a disable and a failing command.
fn entries() -> Vec<Entry> {
    let alias = AliasName::parse("alias/one").unwrap();
    vec![
        Entry {
            log_id: log_id(0, 0),
            payload: EntryPayload::Membership(Membership::new(vec![BTreeSet::from([1])], None)),
        },
        Entry { log_id: log_id(1, 1), payload: EntryPayload::Blank },
        Entry { log_id: log_id(2, 2), payload: EntryPayload::Blank },
        normal(2, 3, Command::CreateKey { record: Box::new(key_record(1)) }),
        normal(2, 4, Command::CreateKey { record: Box::new(key_record(2)) }),
        normal(2, 5, Command::CreateKey { record: Box::new(key_record(3)) }),
        normal(2, 6, Command::CreateAlias { alias, key: key_id(1) }),
        normal(2, 7, Command::SetEnabled { key: key_id(2), enabled: false }),
        normal(2, 8, Command::DeleteAlias { alias: AliasName::parse("alias/nope").unwrap() }),
    ]
}

/// The state the entries lead to, computed without the store.
fn expected_state(entries: &[Entry]) -> RegionState {
    let mut state = RegionState::default();
    for e in entries {
        if let EntryPayload::Normal(env) = &e.payload {
            let _ = state.apply(env, &mut Touched::default());
        }
    }
    state
}

fn snapshot_of(sm: &StateMachineStore) -> RegionState {
    sm.read(|s| s.clone())
}

#[tokio::test]
async fn reopen_restores_log_vote_committed_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let vote = Vote::new_committed(2, 1);
    let all = entries();
    {
        let (mut log, mut sm) = keyraft_store::open(dir.path()).unwrap();
        log.blocking_append(all.clone()).await.unwrap();
        log.save_vote(&vote).await.unwrap();
        log.save_committed(Some(log_id(2, 8))).await.unwrap();

        let results = sm.apply(all.clone()).await.unwrap();
        assert_eq!(results.len(), 9);
        assert_eq!(results[..3], [Ok(Applied::Unit), Ok(Applied::Unit), Ok(Applied::Unit)]);
        assert!(matches!(&results[3], Ok(Applied::Key(k)) if k.id == key_id(1)));
        assert!(matches!(&results[6], Ok(Applied::Alias(_))));
        assert!(matches!(&results[8], Err(CoreError::NotFound(_))));
        assert_eq!(sm.last_applied(), Some(log_id(2, 8)));
        assert_eq!(snapshot_of(&sm), expected_state(&all));
        sm.flush().await.unwrap();
    }

    let (mut log, mut sm) = keyraft_store::open(dir.path()).unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(vote));
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(2, 8)));
    assert_eq!(log.try_get_log_entries(..).await.unwrap(), all);
    assert_eq!(log.try_get_log_entries(3..5).await.unwrap(), all[3..5].to_vec());
    assert_eq!(log.try_get_log_entries(7..=100).await.unwrap(), all[7..].to_vec());
    let st = log.get_log_state().await.unwrap();
    assert_eq!((st.last_purged_log_id, st.last_log_id), (None, Some(log_id(2, 8))));

    assert_eq!(sm.last_applied(), Some(log_id(2, 8)));
    let (applied, membership) = sm.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(2, 8)));
    assert_eq!(membership.log_id(), &Some(log_id(0, 0)));
    let state = snapshot_of(&sm);
    assert_eq!(state, expected_state(&all));
    assert_eq!(state.keys.len(), 3);
    assert_eq!(state.keys[&key_id(2)].state, KeyState::Disabled);
    assert_eq!(state.alias_target(&AliasName::parse("alias/one").unwrap()), Some(&key_id(1)));
    assert_eq!(state.requests.len(), 6, "every normal entry is remembered, errors included");
    assert_eq!(state.clock_ms, 1_700_000_008_000);
}

#[tokio::test]
async fn restart_re_applies_committed_entries_the_state_machine_lost() {
    let dir = tempfile::tempdir().unwrap();
    let all = entries();
    {
        let (mut log, mut sm) = keyraft_store::open(dir.path()).unwrap();
        log.blocking_append(all.clone()).await.unwrap();
        log.save_vote(&Vote::new_committed(2, 1)).await.unwrap();
        log.save_committed(Some(log_id(2, 8))).await.unwrap();
        // Crash after committing 8 but having applied (and flushed) only up to 4.
        sm.apply(all[..5].to_vec()).await.unwrap();
        sm.flush().await.unwrap();
        log.blocking_append(Vec::new()).await.unwrap(); // flushes the committed id too
    }

    let (mut log, mut sm) = keyraft_store::open(dir.path()).unwrap();
    assert_eq!(sm.last_applied(), Some(log_id(2, 4)));
    assert_eq!(snapshot_of(&sm), expected_state(&all[..5]));

    // What openraft does when the node starts.
    StorageHelper::new(&mut log, &mut sm).get_initial_state().await.unwrap();
    assert_eq!(sm.last_applied(), Some(log_id(2, 8)));
    assert_eq!(snapshot_of(&sm), expected_state(&all));
}

async fn install(
    sm: &mut StateMachineStore,
    snap: &keyraft_store::types::Snapshot,
) -> Result<(), openraft::StorageError<u64>> {
    let mut rx = sm.begin_receiving_snapshot().await?;
    *rx = Cursor::new(snap.snapshot.get_ref().clone());
    sm.install_snapshot(&snap.meta, rx).await
}

#[tokio::test]
async fn snapshot_reproduces_the_state_in_a_fresh_store_and_survives_restart() {
    let leader_dir = tempfile::tempdir().unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    let all = entries();

    let (leader_log, mut leader) = keyraft_store::open(leader_dir.path()).unwrap();
    leader.apply(all.clone()).await.unwrap();
    let snap = leader.get_snapshot_builder().await.build_snapshot().await.unwrap();
    assert_eq!(snap.meta.last_log_id, Some(log_id(2, 8)));
    assert_eq!(snap.meta.snapshot_id, "2-8-1");
    assert_eq!(snap.meta.last_membership.log_id(), &Some(log_id(0, 0)));
    let current = leader.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, snap.meta);
    assert_eq!(current.snapshot.get_ref(), snap.snapshot.get_ref());

    {
        let (_log, mut follower) = keyraft_store::open(follower_dir.path()).unwrap();
        install(&mut follower, &snap).await.unwrap();
        assert_eq!(snapshot_of(&follower), snapshot_of(&leader));
        assert_eq!(follower.applied_state().await.unwrap(), leader.applied_state().await.unwrap());
        let current = follower.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, snap.meta);
    }

    // The installed state and the snapshot both survive a restart.
    let (_log, mut follower) = keyraft_store::open(follower_dir.path()).unwrap();
    assert_eq!(snapshot_of(&follower), expected_state(&all));
    assert_eq!(follower.last_applied(), Some(log_id(2, 8)));
    assert_eq!(follower.get_current_snapshot().await.unwrap().unwrap().meta, snap.meta);
    // Applying continues on top of the installed state.
    let next = normal(2, 9, Command::SetEnabled { key: key_id(2), enabled: true });
    let res = follower.apply([next.clone()]).await.unwrap();
    assert!(matches!(&res[0], Ok(Applied::Key(k)) if k.state == KeyState::Enabled));

    // The leader's snapshot is there after its restart too, and ids keep counting.
    drop((leader_log, leader));
    let (_leader_log, mut leader) = keyraft_store::open(leader_dir.path()).unwrap();
    assert_eq!(leader.get_current_snapshot().await.unwrap().unwrap().meta, snap.meta);
    let again = leader.get_snapshot_builder().await.build_snapshot().await.unwrap();
    assert_eq!(again.meta.snapshot_id, "2-8-2");
}

#[tokio::test]
async fn damaged_or_mismatched_snapshots_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, mut sm) = keyraft_store::open(dir.path()).unwrap();
    sm.apply(entries()).await.unwrap();
    let snap = sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
    let bytes = snap.snapshot.get_ref().clone();

    let fresh = tempfile::tempdir().unwrap();
    let (_flog, mut target) = keyraft_store::open(fresh.path()).unwrap();
    let variants: Vec<Vec<u8>> = vec![
        Vec::new(),
        bytes[..bytes.len() / 2].to_vec(),
        [&[9, 0, 0, 0][..], &bytes[4..]].concat(),
        [bytes.as_slice(), &[0]].concat(),
    ];
    for data in variants {
        let bad = keyraft_store::types::Snapshot { meta: snap.meta.clone(), snapshot: Box::new(Cursor::new(data)) };
        assert!(install(&mut target, &bad).await.is_err());
    }
    let mut wrong_meta = snap.meta.clone();
    wrong_meta.last_log_id = Some(log_id(2, 7));
    let mismatched = keyraft_store::types::Snapshot { meta: wrong_meta, snapshot: Box::new(Cursor::new(bytes)) };
    assert!(install(&mut target, &mismatched).await.is_err());

    assert_eq!(target.last_applied(), None);
    assert_eq!(snapshot_of(&target), RegionState::default());
    assert!(target.get_current_snapshot().await.unwrap().is_none());
}

/// Entries at or below a purge are gone and stay gone; truncation removes the tail.
#[tokio::test]
async fn purge_and_truncate_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let all = entries();
    {
        let (mut log, _sm): (LogStore, StateMachineStore) = keyraft_store::open(dir.path()).unwrap();
        log.blocking_append(all.clone()).await.unwrap();
        log.purge(log_id(2, 3)).await.unwrap();
        log.truncate(log_id(2, 7)).await.unwrap();
    }
    let (mut log, _sm) = keyraft_store::open(dir.path()).unwrap();
    let st = log.get_log_state().await.unwrap();
    assert_eq!(st.last_purged_log_id, Some(log_id(2, 3)));
    assert_eq!(st.last_log_id, Some(log_id(2, 6)));
    assert_eq!(log.try_get_log_entries(..).await.unwrap(), all[4..7].to_vec());
}
