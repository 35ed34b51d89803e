//! A region's membership and Raft timing.

use std::collections::BTreeMap;
use std::time::Duration;

use keyraft_core::Region;
use keyraft_store::NodeId;
use serde::{Deserialize, Serialize};

/// One voter of the region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerConfig {
    pub id: NodeId,
    /// `host:port` of the peer's Raft gRPC listener.
    pub raft_addr: String,
}

/// What a node needs to know about its region's group.
#[derive(Debug, Clone)]
pub struct RegionConfig {
    /// The deployment's id: Raft RPCs for another deployment are refused.
    pub cluster_id: String,
    pub region: Region,
    pub node_id: NodeId,
    /// Every voter of the region, this node included.
    pub peers: BTreeMap<NodeId, String>,
    pub heartbeat: Duration,
    pub election_timeout: (Duration, Duration),
    /// Build a snapshot after this many log entries.
    pub snapshot_every: u64,
    /// Log entries kept behind a snapshot.
    pub keep_after_snapshot: u64,
    /// How long a write may take, leader changes and forwarding included.
    pub write_timeout: Duration,
    /// Whether reads pass the linearizable read barrier (on by default; off only for measuring
    /// what the barrier costs).
    pub read_barrier: bool,
    /// This node joins a group that already exists: it never initializes one and waits to be
    /// added as a learner (`keyraft cluster add-learner`).
    pub join: bool,
    /// Mutual TLS on the Raft listener and to peers (`None`: plain gRPC, `keyraft dev` only).
    pub tls: Option<std::sync::Arc<crate::tls::PeerTls>>,
}

impl RegionConfig {
    pub fn new(cluster_id: &str, region: Region, node_id: NodeId, peers: BTreeMap<NodeId, String>) -> Self {
        RegionConfig {
            cluster_id: cluster_id.to_owned(),
            region,
            node_id,
            peers,
            heartbeat: Duration::from_millis(100),
            election_timeout: (Duration::from_millis(800), Duration::from_millis(1600)),
            snapshot_every: 10_000,
            keep_after_snapshot: 1_000,
            write_timeout: Duration::from_secs(10),
            read_barrier: true,
            join: false,
            tls: None,
        }
    }

    pub fn openraft_config(&self) -> openraft::Config {
        openraft::Config {
            cluster_name: format!("{}/{}", self.cluster_id, self.region),
            heartbeat_interval: self.heartbeat.as_millis() as u64,
            election_timeout_min: self.election_timeout.0.as_millis() as u64,
            election_timeout_max: self.election_timeout.1.as_millis() as u64,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.keep_after_snapshot,
            ..Default::default()
        }
    }
}
