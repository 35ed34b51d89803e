//! Opening the node's sled database.

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::error::StoreError;
use crate::log_store::LogStore;
use crate::state_machine::StateMachineStore;

/// How long [`open`] waits for a previous handle of the same directory in this process to let go.
const LOCK_RETRIES: u32 = 100;
const LOCK_RETRY_DELAY: Duration = Duration::from_millis(10);

/// Opens (or creates) the node's store at `path`: one `sled::Db` holding the log, the vote and
/// the state machine. The state machine is loaded into memory; entries a crash left behind a
/// recorded purge are removed, and an interrupted snapshot install is completed.
///
/// sled locks the directory exclusively while its configuration (which owns the locked file) is
/// alive. Background jobs on sled's thread pool (writing out an IO buffer, truncating a segment)
/// hold a clone of it, so right after the last handle is dropped the lock can still be held for
/// a moment in the same process; `open` therefore retries a lock conflict for up to one second
/// (blocking the calling thread) before giving up. All clones of both stores must be dropped.
pub fn open(path: &Path) -> Result<(LogStore, StateMachineStore), StoreError> {
    let db = open_db(path)?;
    let log = LogStore::open(&db)?;
    let sm = StateMachineStore::open(&db)?;
    Ok((log, sm))
}

/// sled's page cache. sled's default (1 GiB) would mostly hold a second copy of the key state,
/// which the state machine already keeps in memory; the cache only speeds up log reads for
/// replication and start-up.
const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let mut attempts = 0;
    loop {
        match sled::Config::new().path(path).cache_capacity(SLED_CACHE_BYTES).open() {
            Err(sled::Error::Io(e)) if is_lock_conflict(&e) && attempts < LOCK_RETRIES => {
                attempts += 1;
                std::thread::sleep(LOCK_RETRY_DELAY);
            }
            other => return Ok(other?),
        }
    }
}

/// sled 0.34 reports a held lock only as an `Other` I/O error with this message.
fn is_lock_conflict(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Other && e.to_string().starts_with("could not acquire lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_a_held_directory_fails_after_retrying() {
        let dir = tempfile::tempdir().unwrap();
        let held = open(dir.path()).unwrap();
        match open(dir.path()) {
            Err(StoreError::Sled(sled::Error::Io(e))) => assert!(is_lock_conflict(&e), "{e}"),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("opened a directory that is in use"),
        }
        drop(held);
        open(dir.path()).unwrap();
    }
}
