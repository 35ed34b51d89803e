//! keyraft-store: openraft 0.9 log, vote and state machine stored in sled 0.34.
//!
//! [`open`] opens one `sled::Db` per node directory and returns the two halves openraft needs:
//! a [`LogStore`] (`RaftLogStorage`: log, vote, committed, last purged) and a
//! [`StateMachineStore`] (`RaftStateMachine` + `RaftSnapshotBuilder`: the region's
//! [`RegionState`](keyraft_core::RegionState) in memory, mirrored in sled, with snapshots).
//!
//! # Modules
//!
//! - [`open`] (`db`): opening the sled database.
//! - [`types`]: the openraft `TypeConfig` and aliases.
//! - [`log_store`]: the log and vote, and when each write becomes durable.
//! - [`state_machine`]: the state machine, its read API, snapshots.
//! - `sm_tree`: the state machine's key layout in sled.
//! - `snapshot`: the snapshot format and where the current snapshot is kept.
//! - `codec`: the value codec.
//! - [`error`]: the crate's error enum, [`StoreError`].
//!
//! # Codec
//!
//! Every persisted value is one format-version byte ([`FORMAT_VERSION`], now 1) followed by
//! bincode 1.3 (fixed-width little-endian integers). bincode was chosen over serde_json because
//! every persisted openraft type (`Entry`, `Vote`, `LogId`, `StoredMembership`, `SnapshotMeta`)
//! and keyraft-core's types round-trip through it (tested in `codec`), and it is compact and fast
//! on the append path. Decoding never panics and never allocates more than its input: damaged
//! bytes become [`StoreError::Decode`] / [`StoreError::FormatVersion`] /
//! [`StoreError::Corrupt`], which openraft receives as a `StorageError` and stops the node on.
//! Log keys are the entry index as 8 big-endian bytes.
//!
//! # What sled 0.34 guarantees, and what this crate relies on
//!
//! - A write (`insert`, `remove`, `apply_batch`) is visible to readers at once, but is **not
//!   durable** until a flush: sled buffers its log in memory. A background thread also flushes
//!   every 500 ms (`flush_every_ms`); nothing here relies on it.
//! - `flush` / `flush_async` write out the buffers and fsync; when they return `Ok`, every write
//!   made before the call — to any tree of the `Db`, since all trees share one log — is
//!   recovered after a crash. (`flush_async` runs the fsync on sled's own thread pool, so it does
//!   not block a tokio worker.)
//! - `apply_batch` is atomic within one tree: after a crash all of a batch is recovered or none
//!   of it. There is no atomicity across trees without sled transactions, which are not used.
//! - Recovery replays sled's single log in order and stops at the first torn or missing record,
//!   so the recovered state is a **prefix** of the writes in the order they were made. This is a
//!   property of sled 0.34's log-structured design rather than a documented API promise, so the
//!   crate does not depend on it for safety: it is only what makes the un-flushed writes below
//!   harmless to lose.
//!
//! What this crate does:
//!
//! - `append` applies the entries as one batch and awaits `flush_async` **before** calling
//!   `log_io_completed(Ok)`; `save_vote` flushes before returning; `truncate` removes its range in
//!   one batch and flushes; `purge` records `last_purged` and flushes before removing entries.
//! - `save_committed` is not flushed: losing it only means fewer entries are re-applied at
//!   start-up (openraft also clamps `committed` up to `last_applied`).
//! - Each `apply` writes one batch to the state-machine tree and is not flushed: the Raft log is
//!   the source of truth, and on start-up openraft re-applies `(last_applied, committed]` from
//!   the log (`get_initial_state`), so a state machine that lost its newest applies catches up.
//! - Building a snapshot flushes (state tree and snapshot) before returning it, and installing
//!   one flushes before returning, because openraft may purge the logs the snapshot covers right
//!   after.
//! - sled keeps an exclusive file lock on the directory while any handle (a clone of either
//!   store) is alive: reopening in the same process needs every clone dropped first, and even
//!   then a background job on sled's thread pool may hold the lock for a moment; [`open`]
//!   retries a lock conflict for up to a second.

mod codec;
mod db;
pub mod error;
pub mod log_store;
mod sm_tree;
mod snapshot;
pub mod state_machine;
pub mod types;

pub use codec::FORMAT_VERSION;
pub use db::open;
pub use error::StoreError;
pub use log_store::LogStore;
pub use snapshot::{decode_state, encode_state, SNAPSHOT_FORMAT_VERSION};
pub use state_machine::StateMachineStore;
pub use types::{NodeId, TypeConfig};
