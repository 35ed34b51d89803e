//! The openraft type configuration shared by the store and the Raft node.

use std::io::Cursor;

use keyraft_core::{ApplyResult, Envelope};

/// A node's id within its region's Raft group.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// keyraft's Raft types: log entries carry an [`Envelope`], apply answers an [`ApplyResult`].
    pub TypeConfig:
        D = Envelope,
        R = ApplyResult,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type StorageError = openraft::StorageError<NodeId>;
