//! keyraft-service: the KMS operations, one module per operation under [`ops`], on top of a
//! region node. Pure decisions live in keyraft-core; this layer resolves keys, reads through the
//! linearizable read barrier, proposes writes and runs the cryptography.
//!
//! - [`authz`]: the access decision (key policy, identity policies, grants) as AWS makes it.
//! - [`backup`]: backup (an encrypted export of the region state) and restore into a fresh
//!   region.
//! - [`kms`]: `Kms`, the per-node service object (root key, material cache, entropy).
//! - [`ops`]: one file per operation (`impl Kms` blocks).
//! - [`entropy`]: the injected randomness.
//! - [`committed`]: the Raft log index a request's writes committed at (for the audit trail).
//! - [`housekeeping`]: leader-driven time-based lifecycle (deletion after the waiting period,
//!   automatic rotation).
//! - [`replication`]: cross-region shipping of multi-region keys (shipper, receiver, the
//!   `Link` seam).
//! - [`usage`]: key last usage, collected per node and proposed in batches.
//! - [`error`]: the crate's error enum.

pub mod authz;
pub mod backup;
pub mod committed;
pub mod entropy;
pub mod error;
pub(crate) mod grants;
pub mod housekeeping;
pub mod kms;
pub mod ops;
pub mod replication;
pub mod usage;

pub use entropy::{Entropy, OsEntropy};
pub use error::KmsError;
pub use kms::{Caller, Kms};
