//! The crate's error enum, and its conversion into openraft's [`StorageError`].

use openraft::StorageIOError;

use crate::types::StorageError;

/// Every way the store can fail. Any of these reaching openraft (as a [`StorageError`]) stops the
/// Raft node: a store that cannot read or write its own data must not keep voting.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an I/O error, a corrupted file, or a bug of its own.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),

    /// A value could not be encoded (does not happen for keyraft's own types, but is not unwrapped).
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: bincode::Error,
    },

    /// A persisted value could not be decoded: the bytes on disk are damaged.
    #[error("cannot decode {what}: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: bincode::Error,
    },

    /// A persisted value was written by a format this build does not know.
    #[error("{what} has format version {found}, this build reads version {expected}")]
    FormatVersion { what: &'static str, found: u32, expected: u32 },

    /// Data on disk decodes but is inconsistent (a key that does not match its record, a log
    /// entry stored under the wrong index, an empty value, …).
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },

    /// A thread panicked while holding the state-machine lock; the in-memory state may be
    /// half-updated and must not be written anywhere.
    #[error("the state machine lock is poisoned")]
    Poisoned,
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Corrupt { what, detail: detail.into() }
    }

    /// As an openraft error reading the log.
    pub(crate) fn read_logs(&self) -> StorageError {
        StorageIOError::read_logs(self).into()
    }

    /// As an openraft error writing the log.
    pub(crate) fn write_logs(&self) -> StorageError {
        StorageIOError::write_logs(self).into()
    }

    /// As an openraft error reading the vote.
    pub(crate) fn read_vote(&self) -> StorageError {
        StorageIOError::read_vote(self).into()
    }

    /// As an openraft error writing the vote.
    pub(crate) fn write_vote(&self) -> StorageError {
        StorageIOError::write_vote(self).into()
    }

    /// As an openraft error writing the state machine.
    pub(crate) fn write_state_machine(&self) -> StorageError {
        StorageIOError::write_state_machine(self).into()
    }

    /// As an openraft error reading a snapshot.
    pub(crate) fn read_snapshot(&self) -> StorageError {
        StorageIOError::read_snapshot(None, self).into()
    }

    /// As an openraft error writing a snapshot.
    pub(crate) fn write_snapshot(&self) -> StorageError {
        StorageIOError::write_snapshot(None, self).into()
    }
}
