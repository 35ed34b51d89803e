//! The Raft log and vote: [`LogStore`], openraft's `RaftLogStorage` on two sled trees.
//!
//! - tree `raft_log`: key = the entry's index as 8 big-endian bytes (so sled's byte order is
//!   index order), value = the encoded [`Entry`].
//! - tree `raft_meta`: `vote`, `committed`, `last_purged`, each an encoded `Vote` /
//!   `Option<LogId>` / `LogId`.
//!
//! What is durable when:
//! - `append` applies the entries as one atomic `sled::Batch`, then awaits `flush_async` (fsync of
//!   sled's log), and only then reports `log_io_completed(Ok)`. A flush error is reported to the
//!   callback and returned.
//! - `save_vote` inserts and flushes before returning.
//! - `truncate` removes `[index, ∞)` in one batch and flushes: rare, and it keeps "what the log
//!   said when the node answered the leader" unambiguous.
//! - `purge` records `last_purged` and flushes it, then removes `[0, index]` in one batch without
//!   a flush: so there is never a hole below a recorded `last_purged`, and losing the removal in
//!   a crash only brings back entries that were already applied and snapshotted (`open` removes
//!   such leftovers).
//! - `save_committed` is not flushed: losing the newest committed id in a crash only means fewer
//!   entries are re-applied at start-up (the leader re-sends the commit index), and openraft
//!   raises a recovered `committed` that is behind the recovered `last_applied` to it.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

const LOG_TREE: &str = "raft_log";
const META_TREE: &str = "raft_meta";
const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";

/// The Raft log, vote, committed and last-purged log ids. Clones share the same sled trees; the
/// clone handed out by `get_log_reader` only reads.
#[derive(Clone)]
pub struct LogStore {
    logs: sled::Tree,
    meta: sled::Tree,
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn key_index(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] =
        key.try_into().map_err(|_| StoreError::corrupt("log key", format!("{} bytes, expected 8", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Decodes one `(key, value)` of the log tree and checks that the entry sits under its own index.
fn decode_entry(key: &[u8], value: &[u8]) -> Result<Entry, StoreError> {
    let index = key_index(key)?;
    let entry: Entry = decode("log entry", value)?;
    if entry.log_id.index != index {
        return Err(StoreError::corrupt("log entry", format!("entry {} stored under index {index}", entry.log_id)));
    }
    Ok(entry)
}

impl LogStore {
    /// Opens the log trees of `db`, removing entries a crash left behind a recorded purge.
    pub(crate) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        let store = LogStore { logs: db.open_tree(LOG_TREE)?, meta: db.open_tree(META_TREE)? };
        if let Some(purged) = store.last_purged()? {
            store.remove_upto(purged.index)?;
        }
        Ok(store)
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.meta.get(key)? {
            None => Ok(None),
            Some(v) => decode(what, &v).map(Some),
        }
    }

    fn last_purged(&self) -> Result<Option<LogId>, StoreError> {
        self.get_meta(LAST_PURGED, "last purged log id")
    }

    fn last_entry_log_id(&self) -> Result<Option<LogId>, StoreError> {
        match self.logs.last()? {
            None => Ok(None),
            Some((k, v)) => Ok(Some(decode_entry(&k, &v)?.log_id)),
        }
    }

    /// Removes every entry with index `<= index` in one batch.
    fn remove_upto(&self, index: u64) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for key in self.logs.range(..=index_key(index)).keys() {
            batch.remove(key?);
        }
        self.logs.apply_batch(batch)?;
        Ok(())
    }

    fn read_range(&self, start: Bound<&u64>, end: Bound<&u64>) -> Result<Vec<Entry>, StoreError> {
        let start = match start {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => match s.checked_add(1) {
                Some(s) => s,
                None => return Ok(Vec::new()),
            },
            Bound::Unbounded => 0,
        };
        // Exclusive end; `None` = to the end of the log.
        let end = match end {
            Bound::Included(&e) => e.checked_add(1),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => None,
        };
        let iter = match end {
            Some(end) if end <= start => return Ok(Vec::new()),
            Some(end) => self.logs.range(index_key(start)..index_key(end)),
            None => self.logs.range(index_key(start)..),
        };
        iter.map(|kv| {
            let (k, v) = kv?;
            decode_entry(&k, &v)
        })
        .collect()
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.logs.flush_async().await?;
        Ok(())
    }

    fn append_entries<I>(&self, entries: I) -> Result<(), StoreError>
    where
        I: IntoIterator<Item = Entry>,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            batch.insert(&index_key(entry.log_id.index), encode("log entry", &entry)?);
        }
        self.logs.apply_batch(batch)?;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.read_range(range.start_bound(), range.end_bound()).map_err(|e| e.read_logs())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id = self.last_purged().map_err(|e| e.read_logs())?;
        let last_entry = self.last_entry_log_id().map_err(|e| e.read_logs())?;
        // Entries at or below last_purged may survive a crash mid-purge; they do not count.
        let last_log_id = match (last_entry, last_purged_log_id) {
            (Some(e), Some(p)) if e.index <= p.index => Some(p),
            (Some(e), _) => Some(e),
            (None, p) => p,
        };
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let write = async {
            self.meta.insert(VOTE, encode("vote", vote)?)?;
            self.flush().await
        };
        write.await.map_err(|e| e.write_vote())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.get_meta(VOTE, "vote").map_err(|e| e.read_vote())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let write = || -> Result<(), StoreError> {
            self.meta.insert(COMMITTED, encode("committed log id", &committed)?)?;
            Ok(())
        };
        write().map_err(|e| e.write_logs())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let got: Option<Option<LogId>> = self.get_meta(COMMITTED, "committed log id").map_err(|e| e.read_logs())?;
        Ok(got.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.append_entries(entries).map_err(|e| e.write_logs())?;
        // Durable before acknowledged: openraft counts this node towards a quorum once the
        // callback fires.
        match self.flush().await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::other(e.to_string())));
                Err(e.write_logs())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let write = async {
            let mut batch = sled::Batch::default();
            for key in self.logs.range(index_key(log_id.index)..).keys() {
                batch.remove(key?);
            }
            self.logs.apply_batch(batch)?;
            self.flush().await
        };
        write.await.map_err(|e| e.write_logs())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let write = async {
            // Record (durably) first: a crash between the two writes leaves entries that `open`
            // removes, never a hole below a last_purged that was not recorded.
            self.meta.insert(LAST_PURGED, encode("last purged log id", &log_id)?)?;
            self.flush().await?;
            self.remove_upto(log_id.index)
        };
        write.await.map_err(|e| e.write_logs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_tmp() -> (tempfile::TempDir, sled::Db, LogStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = LogStore::open(&db).unwrap();
        (dir, db, store)
    }

    #[tokio::test]
    async fn damaged_log_is_an_error_not_a_panic() {
        let (_dir, _db, mut store) = open_tmp();
        store.logs.insert(index_key(1), b"\x01garbage".to_vec()).unwrap();
        assert!(store.try_get_log_entries(0..10).await.is_err());
        assert!(store.get_log_state().await.is_err());

        store.logs.clear().unwrap();
        store.logs.insert(b"short", encode("x", &1u8).unwrap()).unwrap();
        assert!(store.try_get_log_entries(..).await.is_err());

        store.meta.insert(VOTE, b"\x07??".to_vec()).unwrap();
        assert!(store.read_vote().await.is_err());
    }

    #[tokio::test]
    async fn entry_under_wrong_index_is_corrupt() {
        let (_dir, _db, mut store) = open_tmp();
        let e = openraft::testing::blank_ent::<TypeConfig>(1, 0, 5);
        store.logs.insert(index_key(6), encode("log entry", &e).unwrap()).unwrap();
        let err = store.try_get_log_entries(..).await.unwrap_err();
        assert!(err.to_string().contains("stored under index 6"), "{err}");
    }

    #[tokio::test]
    async fn leftovers_of_an_interrupted_purge_are_removed_on_open() {
        let (_dir, db, store) = open_tmp();
        for i in 1..=5 {
            let e = openraft::testing::blank_ent::<TypeConfig>(1, 0, i);
            store.logs.insert(index_key(i), encode("log entry", &e).unwrap()).unwrap();
        }
        // As if the crash fell between recording last_purged and removing the entries.
        let purged = openraft::testing::log_id(1, 0, 3);
        store.meta.insert(LAST_PURGED, encode("p", &purged).unwrap()).unwrap();
        let mut store = LogStore::open(&db).unwrap();
        let got = store.try_get_log_entries(..).await.unwrap();
        assert_eq!(got.iter().map(|e| e.log_id.index).collect::<Vec<_>>(), vec![4, 5]);
        let st = store.get_log_state().await.unwrap();
        assert_eq!(st.last_purged_log_id, Some(purged));
        assert_eq!(st.last_log_id.map(|l| l.index), Some(5));
    }
}
