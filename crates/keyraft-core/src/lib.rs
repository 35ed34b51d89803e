//! keyraft-core: the pure core of keyraft.
//!
//! No I/O, no clock, no RNG: everything here is a function of its inputs, so the Raft state
//! machine's [`apply`](state::RegionState::apply) is deterministic on every node.
//!
//! - [`algorithms`]: asymmetric signing/encryption algorithms and which key specs allow them.
//! - [`ids`]: parse-don't-validate identifiers (`KeyId`, `AccountId`, `Region`, `AliasName`,
//!   `KeyArn`, `KeyRef`).
//! - [`model`]: the key model (`KeyRecord`, `KeyState`, `KeySpec`, `KeyUsage`, `Origin`, …).
//! - [`command`]: Raft commands proposed by the leader (`Envelope`, `Command`) and their result.
//! - [`state`]: the region's key state and the deterministic apply.
//! - [`lifecycle`]: the key state × operation matrix.
//! - [`import`]: imported key material (Origin EXTERNAL): apply, expiry.
//! - [`multi_region`]: multi-region keys: epochs, shared versions, the outbox, apply of the
//!   replication commands.
//! - [`restore`]: restore of a region from a backup (`Command::Restore`).
//! - [`rotation`]: backing-key rotation (schedule, history, apply of `RotateKey`).
//! - [`error`]: the crate's error enum.

#[macro_use]
mod macros;

pub mod algorithms;
pub mod clock;
pub mod command;
pub mod context;
pub mod error;
pub mod grants;
pub mod ids;
pub mod import;
pub mod lifecycle;
pub mod model;
pub mod multi_region;
pub mod restore;
pub mod rotation;
pub mod state;
pub mod usage;

pub use clock::Clock;
pub use command::{Applied, ApplyResult, Command, Envelope};
pub use context::EncryptionContext;
pub use error::CoreError;
pub use ids::{AccountId, AliasName, KeyArn, KeyId, KeyRef, Region};
pub use model::{AliasRecord, KeyRecord, KeySpec, KeyState, KeyUsage, Origin, WrappedMaterial};
pub use state::RegionState;
