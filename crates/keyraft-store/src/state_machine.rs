//! [`StateMachineStore`]: the region's key state in memory, mirrored in sled, with snapshots.
//!
//! - Memory is authoritative while running: a `Machine` behind a `std::sync::RwLock`, read by
//!   the rest of the system through [`StateMachineStore::read`] (no await, no I/O).
//! - Every `apply` call writes one atomic `sled::Batch` holding exactly the records named in the
//!   apply's `Touched`, plus last-applied / membership / clock. The batch is written while the
//!   write lock is held, so anyone who saw the new state in memory and then flushes has made it
//!   durable. Apply does not flush: the Raft log is the source of truth, and openraft re-applies
//!   `(last_applied, committed]` from the log on start-up.
//! - Building a snapshot serializes the state under the read lock, stores it as the current
//!   snapshot and flushes before returning, because openraft may purge the logs it covers.
//! - Installing a snapshot stores it as the current snapshot and flushes, then rewrites the state
//!   tree in one batch and flushes again. If a crash falls between, `open` finds a stored
//!   snapshot newer than the tree and restores the tree from it.
//! - openraft builds snapshots in a spawned task, concurrently with applies and installs; an
//!   async mutex serializes "store the current snapshot" so that a slow build never replaces a
//!   newer installed snapshot.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use keyraft_core::state::Touched;
use keyraft_core::{Applied, ApplyResult, RegionState};
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};

use crate::error::StoreError;
use crate::sm_tree::{self, Machine};
use crate::snapshot::{self, StoredSnapshot};
use crate::types::{Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

/// The state machine. Clones are cheap and share everything.
#[derive(Clone)]
pub struct StateMachineStore {
    inner: Arc<Inner>,
}

struct Inner {
    tree: sled::Tree,
    snapshots: sled::Tree,
    machine: RwLock<Machine>,
    snapshot_counter: AtomicU64,
    /// Held while a snapshot is being stored (build or install).
    snapshot_lock: tokio::sync::Mutex<()>,
    /// Signalled after an apply that changed a multi-region key's state (wakes the shipper).
    multi_region_changed: tokio::sync::Notify,
}

impl StateMachineStore {
    /// Loads the state machine of `db` into memory.
    pub(crate) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        let tree = db.open_tree(sm_tree::SM_TREE)?;
        let snapshots = db.open_tree(snapshot::SNAPSHOT_TREE)?;
        let mut machine = sm_tree::load(&tree)?;
        if let Some(current) = snapshot::load_current(&snapshots)? {
            if current.meta.last_log_id > machine.last_applied {
                // An install was interrupted after storing the snapshot: finish it.
                tracing::warn!(
                    snapshot = %current.meta,
                    "state machine tree is older than the stored snapshot; restoring it"
                );
                machine = snapshot::from_bytes(&current.meta, &current.data)?;
                tree.apply_batch(sm_tree::rewrite_all(&tree, &machine)?)?;
                tree.flush()?;
            }
        }
        let counter = snapshot::load_counter(&snapshots)?;
        Ok(StateMachineStore {
            inner: Arc::new(Inner {
                tree,
                snapshots,
                machine: RwLock::new(machine),
                snapshot_counter: AtomicU64::new(counter),
                snapshot_lock: tokio::sync::Mutex::new(()),
                multi_region_changed: tokio::sync::Notify::new(),
            }),
        })
    }

    /// Runs `f` on the current region state. Cheap: a read lock, no I/O, no await. Do not block
    /// inside `f`; applies wait for it.
    pub fn read<R>(&self, f: impl FnOnce(&RegionState) -> R) -> R {
        f(&self.read_machine().state)
    }

    /// Runs `f` on the current region state and the log id of the last entry applied to it,
    /// read together under one lock (what a backup records).
    pub fn read_applied<R>(&self, f: impl FnOnce(&RegionState, Option<&LogId>) -> R) -> R {
        let m = self.read_machine();
        f(&m.state, m.last_applied.as_ref())
    }

    /// Resolves after the next apply that changes a multi-region key's state (or at once if
    /// one happened since the last call).
    pub async fn multi_region_changed(&self) {
        self.inner.multi_region_changed.notified().await
    }

    /// The log id of the last entry applied, if any.
    pub fn last_applied(&self) -> Option<LogId> {
        self.read_machine().last_applied
    }

    /// Flushes the state-machine tree to disk, so that a restart need not re-apply entries
    /// (e.g. on a graceful shutdown). Never needed for correctness.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.inner.tree.flush_async().await?;
        Ok(())
    }

    /// A poisoned lock means an apply panicked half-way; openraft stops the node when that
    /// happens, and `read` has no way to report an error, so it still answers.
    fn read_machine(&self) -> RwLockReadGuard<'_, Machine> {
        self.inner.machine.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writers refuse a poisoned lock: the state may be half-updated.
    fn write_machine(&self) -> Result<RwLockWriteGuard<'_, Machine>, StoreError> {
        self.inner.machine.write().map_err(|_| StoreError::Poisoned)
    }

    fn apply_entries<I>(&self, entries: I) -> Result<Vec<ApplyResult>, StoreError>
    where
        I: IntoIterator<Item = Entry>,
    {
        let mut guard = self.write_machine()?;
        let m = &mut *guard;
        let mut touched = Touched::default();
        let mut results = Vec::new();
        let mut membership_changed = false;
        for entry in entries {
            m.last_applied = Some(entry.log_id);
            let result = match entry.payload {
                EntryPayload::Blank => Ok(Applied::Unit),
                EntryPayload::Normal(env) => m.state.apply(&env, &mut touched),
                EntryPayload::Membership(membership) => {
                    m.membership = StoredMembership::new(Some(entry.log_id), membership);
                    membership_changed = true;
                    Ok(Applied::Unit)
                }
            };
            results.push(result);
        }
        if !results.is_empty() {
            let mut batch = sled::Batch::default();
            sm_tree::write_touched(&mut batch, m, &touched, membership_changed)?;
            self.inner.tree.apply_batch(batch)?;
        }
        if !touched.multi_region.is_empty() {
            self.inner.multi_region_changed.notify_one();
        }
        Ok(results)
    }

    /// Serializes the current state as a snapshot.
    fn serialize_snapshot(&self) -> Result<StoredSnapshot, StoreError> {
        let m = self.read_machine();
        let data = snapshot::to_bytes(&m)?;
        let counter = self.inner.snapshot_counter.fetch_add(1, Ordering::SeqCst) + 1;
        let meta = SnapshotMeta {
            last_log_id: m.last_applied,
            last_membership: m.membership.clone(),
            snapshot_id: snapshot::snapshot_id(m.last_applied.as_ref(), counter),
        };
        Ok(StoredSnapshot { meta, data })
    }

    /// Stores `snap` as the current snapshot and flushes everything written so far.
    async fn store_snapshot(&self, snap: &StoredSnapshot) -> Result<(), StoreError> {
        let counter = self.inner.snapshot_counter.load(Ordering::SeqCst);
        snapshot::store_current(&self.inner.snapshots, snap, counter)?;
        self.flush().await
    }

    async fn build(&self) -> Result<StoredSnapshot, StoreError> {
        let _serialized = self.inner.snapshot_lock.lock().await;
        let snap = self.serialize_snapshot()?;
        // The state tree up to last_applied was written before the state was read, so this
        // flush makes it durable along with the snapshot, before openraft may purge the logs the
        // snapshot covers.
        self.store_snapshot(&snap).await?;
        Ok(snap)
    }

    async fn install(&self, meta: &SnapshotMeta, data: Vec<u8>) -> Result<(), StoreError> {
        let machine = snapshot::from_bytes(meta, &data)?;
        let _serialized = self.inner.snapshot_lock.lock().await;
        self.store_snapshot(&StoredSnapshot { meta: meta.clone(), data }).await?;
        {
            let mut guard = self.write_machine()?;
            self.inner.tree.apply_batch(sm_tree::rewrite_all(&self.inner.tree, &machine)?)?;
            *guard = machine;
        }
        self.flush().await
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let snap = self.build().await.map_err(|e| e.write_snapshot())?;
        tracing::info!(snapshot = %snap.meta, bytes = snap.data.len(), "built snapshot");
        Ok(Snapshot { meta: snap.meta, snapshot: Box::new(Cursor::new(snap.data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let m = self.read_machine();
        Ok((m.last_applied, m.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyResult>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.apply_entries(entries).map_err(|e| e.write_state_machine())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        self.install(meta, snapshot.into_inner()).await.map_err(|e| e.write_snapshot())?;
        tracing::info!(snapshot = %meta, "installed snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let stored = snapshot::load_current(&self.inner.snapshots).map_err(|e| e.read_snapshot())?;
        Ok(stored.map(|s| Snapshot { meta: s.meta, snapshot: Box::new(Cursor::new(s.data)) }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openraft::Membership;

    use super::*;

    fn open_db(dir: &tempfile::TempDir) -> sled::Db {
        sled::open(dir.path()).unwrap()
    }

    /// A restore (one command replacing the whole region's contents) is mirrored record by
    /// record: the tree alone loads the same machine, as after a restart.
    #[tokio::test]
    async fn a_restore_is_mirrored_in_the_tree() {
        use keyraft_core::command::{Command, Envelope, RequestId};
        use keyraft_core::restore::RegionContents;
        use keyraft_core::{AccountId, AliasName, AliasRecord, KeyId, KeyRecord, Region};

        let account = AccountId::parse("111122223333").unwrap();
        let region = Region::parse("us-east-1").unwrap();
        let mut contents = RegionContents { clock_ms: 77, ..Default::default() };
        for i in 1..=3u8 {
            let id = KeyId::from_uuid_bytes([i; 16]);
            contents.keys.insert(id.clone(), KeyRecord::new(id, account.clone(), region.clone()));
        }
        let alias = AliasName::parse("alias/restored").unwrap();
        let target = KeyId::from_uuid_bytes([1; 16]);
        contents.aliases.insert(alias.clone(), AliasRecord { name: alias, target, creation_ms: 5, last_updated_ms: 6 });
        contents.deleted.insert(KeyId::from_uuid_bytes([9; 16]), account);
        contents.check(&region).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let db = open_db(&dir);
        let mut sm = StateMachineStore::open(&db).unwrap();
        let env = Envelope {
            request_id: RequestId([1; 16]),
            time_ms: 10,
            command: Command::Restore { contents: Box::new(contents.clone()) },
        };
        let results = sm
            .apply([Entry { log_id: openraft::testing::log_id(1, 1, 1), payload: EntryPayload::Normal(env) }])
            .await
            .unwrap();
        assert_eq!(results, vec![Ok(Applied::Unit)]);
        assert_eq!(sm.read(RegionContents::of), contents);
        let tree = db.open_tree(sm_tree::SM_TREE).unwrap();
        assert_eq!(sm_tree::load(&tree).unwrap(), *sm.read_machine());
    }

    /// A crash after an install stored its snapshot but before it rewrote the state tree: `open`
    /// finishes the install from the stored snapshot.
    #[tokio::test]
    async fn open_completes_an_interrupted_install() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(&dir);
        let mut sm = StateMachineStore::open(&db).unwrap();
        let membership = Membership::new(vec![BTreeSet::from([1, 2, 3])], None);
        sm.apply([
            openraft::testing::blank_ent::<TypeConfig>(1, 1, 1),
            Entry { log_id: openraft::testing::log_id(1, 1, 2), payload: EntryPayload::Membership(membership) },
        ])
        .await
        .unwrap();
        let built = sm.build().await.unwrap();

        let other = tempfile::tempdir().unwrap();
        let other_db = open_db(&other);
        let snapshots = other_db.open_tree(snapshot::SNAPSHOT_TREE).unwrap();
        snapshot::store_current(&snapshots, &built, 0).unwrap();

        let restored = StateMachineStore::open(&other_db).unwrap();
        assert_eq!(restored.last_applied(), sm.last_applied());
        let mut restored_mut = restored.clone();
        assert_eq!(restored_mut.applied_state().await.unwrap(), sm.applied_state().await.unwrap());
        // And the tree was rewritten, so it loads the same way without the snapshot's help.
        let tree = other_db.open_tree(sm_tree::SM_TREE).unwrap();
        assert_eq!(sm_tree::load(&tree).unwrap(), *restored.read_machine());
    }
}
