//! keyraft-raft: one region's Raft group.
//!
//! - [`node`]: `RegionNode`: starts openraft on the sled store, proposes writes (forwarding them
//!   to the leader, retrying across leader changes), and the batched linearizable read barrier.
//! - [`membership`]: adding a learner, promoting it, removing a node (`keyraft cluster`).
//! - [`network`]: the openraft network over gRPC (client side).
//! - [`service`]: the gRPC `RaftService` (server side), refusing other clusters and regions.
//! - [`replication`]: the gRPC `ReplicationService` between regions (multi-region keys).
//! - [`barrier`]: coalescing of concurrent read barriers into one leader round trip.
//! - [`codec`]: how openraft messages travel inside the protobuf envelope.
//! - [`config`]: a region's membership and Raft timing.
//! - [`status`]: a node's Raft status as `keyraft status` prints it.
//! - [`tls`]: mutual TLS between nodes and regions; a peer's identity is its certificate's
//!   `keyraft://<region>/<node>` URI SAN.
//! - [`error`]: the crate's error enum.

pub mod barrier;
pub mod clock;
pub mod codec;
pub mod config;
pub mod error;
pub mod membership;
pub mod network;
pub mod node;
pub mod replication;
pub mod service;
pub mod status;
pub mod tls;

/// Generated from `proto/keyraft/raft/v1/raft.proto`.
pub mod pb {
    tonic::include_proto!("keyraft.raft.v1");
}

/// Generated from `proto/keyraft/replication/v1/replication.proto`.
pub mod rpb {
    tonic::include_proto!("keyraft.replication.v1");
}

pub use clock::SystemClock;
pub use config::{PeerConfig, RegionConfig};
pub use error::RaftNodeError;
pub use node::RegionNode;
pub use status::NodeStatus;
