//! `RegionNode`: one voter of a region's Raft group.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keyraft_core::command::RequestId;
use keyraft_core::{ApplyResult, Clock, Command, Envelope};
use keyraft_store::{LogStore, NodeId, StateMachineStore, TypeConfig};
use openraft::error::{ClientWriteError, RaftError};
use openraft::raft::ClientWriteResponse;
use openraft::{BasicNode, Raft, ServerState};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::barrier::Coalescer;
use crate::config::RegionConfig;
use crate::error::RaftNodeError;
use crate::network::{Clients, Network, Rpc};
use crate::status::NodeStatus;

/// A write forwarded from a follower to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardWrite {
    pub request_id: RequestId,
    pub command: Command,
}

/// The leader's answer to a forwarded write or read-index request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LeaderReply<T> {
    Ok(T),
    NotLeader(Option<NodeId>),
    Failed(String),
}

/// The leader's answer to a forwarded write: the apply result and the log index of the entry.
/// A bare `ApplyResult` (an older leader's answer) still decodes, without the index.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WriteReply {
    Indexed { result: ApplyResult, index: u64 },
    Bare(ApplyResult),
}

/// One node of a region's Raft group, with its store.
pub struct RegionNode {
    cfg: RegionConfig,
    raft: Raft<TypeConfig>,
    sm: StateMachineStore,
    log: LogStore,
    clients: Clients,
    clock: Arc<dyn Clock>,
    barrier: Coalescer,
}

const RPC_TIMEOUT: Duration = Duration::from_secs(3);

impl RegionNode {
    /// Opens the store under `data_dir` and starts Raft. Serve [`crate::service`] on the node's
    /// Raft address, then call [`RegionNode::bootstrap`].
    pub async fn start(cfg: RegionConfig, data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Arc<Self>, RaftNodeError> {
        let (log, sm) = keyraft_store::open(data_dir).map_err(|e| RaftNodeError::Storage(e.to_string()))?;
        let mut clients = Clients::new(&cfg.cluster_id, cfg.region.as_str(), cfg.node_id);
        if let Some(tls) = &cfg.tls {
            clients = clients.with_tls(tls.clone(), cfg.region.clone());
        }
        let config = Arc::new(cfg.openraft_config().validate().map_err(|e| RaftNodeError::Raft(e.to_string()))?);
        let raft = Raft::new(cfg.node_id, config, Network { clients: clients.clone() }, log.clone(), sm.clone())
            .await
            .map_err(|e| RaftNodeError::Raft(e.to_string()))?;
        Ok(Arc::new_cyclic(|weak: &std::sync::Weak<RegionNode>| {
            let weak = weak.clone();
            let barrier = Coalescer::new(Arc::new(move || {
                let weak = weak.clone();
                Box::pin(async move {
                    match weak.upgrade() {
                        Some(node) => node.fetch_read_index().await,
                        None => Err(RaftNodeError::ShuttingDown),
                    }
                })
            }));
            RegionNode { cfg, raft, sm, log, clients, clock, barrier }
        }))
    }

    /// Initializes the group on first start: the node with the lowest id proposes the initial
    /// membership (every configured voter); a node that already has state does nothing.
    pub async fn bootstrap(&self) -> Result<(), RaftNodeError> {
        // A node joining an existing group waits to be added (`keyraft cluster add-learner`).
        if self.cfg.join {
            return Ok(());
        }
        let lowest = self.cfg.peers.keys().next().copied();
        if lowest != Some(self.cfg.node_id) {
            return Ok(());
        }
        if self.raft.is_initialized().await.map_err(|e| RaftNodeError::Raft(e.to_string()))? {
            return Ok(());
        }
        let members: BTreeMap<NodeId, BasicNode> =
            self.cfg.peers.iter().map(|(id, addr)| (*id, BasicNode { addr: addr.clone() })).collect();
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            // Raced with a vote from a peer that is already initialized: fine.
            Err(RaftError::APIError(e)) => {
                tracing::info!(error = %e, "not initializing the region group");
                Ok(())
            }
            Err(e) => Err(RaftNodeError::Raft(e.to_string())),
        }
    }

    pub fn config(&self) -> &RegionConfig {
        &self.cfg
    }

    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// The applied key state of this node (read it after [`RegionNode::read_barrier`]).
    pub fn state(&self) -> &StateMachineStore {
        &self.sm
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn leader_addr(&self, id: NodeId) -> Option<String> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        m.membership().get_node(&id).map(|n| n.addr.clone()).or_else(|| self.cfg.peers.get(&id).cloned())
    }

    fn current_leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// Proposes a command and waits until it is committed and applied on the leader. Any node
    /// accepts writes: a follower forwards to the leader and retries across leader changes; the
    /// request id makes a retried command apply once.
    pub async fn write(&self, request_id: RequestId, command: Command) -> Result<ApplyResult, RaftNodeError> {
        Ok(self.write_indexed(request_id, command).await?.0)
    }

    /// [`RegionNode::write`], also returning the Raft log index of the committed entry (`None`
    /// when an older leader did not say).
    pub async fn write_indexed(
        &self,
        request_id: RequestId,
        command: Command,
    ) -> Result<(ApplyResult, Option<u64>), RaftNodeError> {
        let forward = ForwardWrite { request_id, command };
        let reply = self
            .on_leader(Rpc::ForwardWrite, &forward, self.cfg.write_timeout, RaftNodeError::Timeout, || {
                self.propose_local_indexed(forward.request_id, forward.command.clone())
            })
            .await?;
        Ok(match reply {
            WriteReply::Indexed { result, index } => (result, Some(index)),
            WriteReply::Bare(result) => (result, None),
        })
    }

    /// Runs `local` if this node leads the region, or `rpc` on the leader otherwise, following
    /// leader hints and retrying until the write timeout (then `on_timeout`).
    pub(crate) async fn on_leader<T, Req, F, Fut>(
        &self,
        rpc: Rpc,
        req: &Req,
        rpc_timeout: Duration,
        on_timeout: RaftNodeError,
        local: F,
    ) -> Result<T, RaftNodeError>
    where
        T: DeserializeOwned,
        Req: Serialize,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = LeaderReply<T>>,
    {
        let deadline = Instant::now() + self.cfg.write_timeout;
        let mut hint: Option<NodeId> = None;
        loop {
            // A node shutting down answers at once (a forwarded caller retries on the new
            // leader) instead of holding the request, and its store, until the write timeout.
            if self.raft.metrics().borrow().state == ServerState::Shutdown {
                return Err(RaftNodeError::ShuttingDown);
            }
            let attempt = match hint.take().or_else(|| self.current_leader()) {
                Some(leader) if leader == self.cfg.node_id => local().await,
                Some(leader) => match self.leader_addr(leader) {
                    Some(addr) => match self.clients.call(&addr, rpc, req, rpc_timeout).await {
                        Ok(reply) => reply,
                        Err(e) => LeaderReply::Failed(e.to_string()),
                    },
                    None => LeaderReply::NotLeader(None),
                },
                None => LeaderReply::NotLeader(None),
            };
            match attempt {
                LeaderReply::Ok(r) => return Ok(r),
                LeaderReply::NotLeader(h) => hint = h,
                LeaderReply::Failed(e) => tracing::debug!(?rpc, error = %e, "attempt on the leader failed; retrying"),
            }
            if Instant::now() >= deadline {
                return Err(on_timeout);
            }
            if hint.is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Leader side of a write: stamp the time, propose, wait for apply.
    pub async fn propose_local(&self, request_id: RequestId, command: Command) -> LeaderReply<ApplyResult> {
        match self.propose_local_indexed(request_id, command).await {
            LeaderReply::Ok(WriteReply::Indexed { result, .. } | WriteReply::Bare(result)) => LeaderReply::Ok(result),
            LeaderReply::NotLeader(h) => LeaderReply::NotLeader(h),
            LeaderReply::Failed(e) => LeaderReply::Failed(e),
        }
    }

    /// [`RegionNode::propose_local`] with the log index of the entry (the forwarded write's answer).
    pub async fn propose_local_indexed(&self, request_id: RequestId, command: Command) -> LeaderReply<WriteReply> {
        let env = Envelope { request_id, time_ms: self.clock.now_ms(), command };
        let res: Result<ClientWriteResponse<TypeConfig>, _> = self.raft.client_write(env).await;
        match res {
            Ok(resp) => LeaderReply::Ok(WriteReply::Indexed { result: resp.data, index: resp.log_id.index }),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => LeaderReply::NotLeader(f.leader_id),
            Err(e) => LeaderReply::Failed(e.to_string()),
        }
    }

    /// Leader side of a read barrier: confirm leadership with a heartbeat quorum and return the
    /// index a linearizable read must wait for.
    pub async fn leader_read_index(&self) -> LeaderReply<u64> {
        match self.raft.get_read_log_id().await {
            Ok((read, _applied)) => LeaderReply::Ok(read.map(|l| l.index).unwrap_or(0)),
            Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f))) => {
                LeaderReply::NotLeader(f.leader_id)
            }
            Err(e) => LeaderReply::Failed(e.to_string()),
        }
    }

    /// A follower's `ReadIndex` request, answered on the leader: it joins the leader's own
    /// coalesced rounds, so the reads of every node of the region share one heartbeat quorum.
    pub async fn serve_read_index(&self) -> LeaderReply<u64> {
        if self.current_leader() != Some(self.cfg.node_id) {
            return self.leader_read_index().await;
        }
        match self.barrier.read_index().await {
            Ok(i) => LeaderReply::Ok(i),
            Err(e) => LeaderReply::Failed(e.to_string()),
        }
    }

    async fn fetch_read_index(&self) -> Result<u64, RaftNodeError> {
        self.on_leader(Rpc::ReadIndex, &(), RPC_TIMEOUT, RaftNodeError::NoLeader, || self.leader_read_index()).await
    }

    /// The linearizable read barrier: after it returns, this node's applied state includes every
    /// write acknowledged (by any node) before the call began.
    pub async fn read_barrier(&self) -> Result<(), RaftNodeError> {
        if !self.cfg.read_barrier {
            return Ok(());
        }
        let index = self.barrier.read_index().await?;
        if self.sm.last_applied().map(|l| l.index).unwrap_or(0) >= index {
            return Ok(());
        }
        self.raft
            .wait(Some(self.cfg.write_timeout))
            .applied_index_at_least(Some(index), "read barrier")
            .await
            .map(|_| ())
            .map_err(|e| match e {
                openraft::metrics::WaitError::Timeout(..) => RaftNodeError::Timeout,
                openraft::metrics::WaitError::ShuttingDown => RaftNodeError::ShuttingDown,
            })
    }

    /// This node's Raft status.
    pub async fn status(&self) -> NodeStatus {
        let m = self.raft.metrics().borrow().clone();
        let committed = {
            use openraft::storage::RaftLogStorage;
            let mut log = self.log.clone();
            log.read_committed().await.ok().flatten().map(|l| l.index)
        };
        NodeStatus {
            node_id: self.cfg.node_id,
            region: self.cfg.region.to_string(),
            raft_addr: self.cfg.peers.get(&self.cfg.node_id).cloned().unwrap_or_default(),
            state: match m.state {
                ServerState::Leader => "Leader",
                ServerState::Follower => "Follower",
                ServerState::Candidate => "Candidate",
                ServerState::Learner => "Learner",
                ServerState::Shutdown => "Shutdown",
            }
            .to_owned(),
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index,
            committed_index: committed,
            applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            voters: m.membership_config.membership().voter_ids().collect(),
            keys: self.sm.read(|s| s.keys.len()),
        }
    }

    /// The status of every member of the region (voters and learners; the configured peers
    /// before the group is initialized), asked over gRPC (this node's own answered locally). An
    /// unreachable node is reported as an error string.
    pub async fn region_status(&self) -> Vec<(NodeId, Result<NodeStatus, String>)> {
        let mut out = Vec::new();
        for (id, addr) in self.members() {
            if id == self.cfg.node_id {
                out.push((id, Ok(self.status().await)));
            } else {
                let r: Result<NodeStatus, _> = self.clients.call(&addr, Rpc::Status, &(), RPC_TIMEOUT).await;
                out.push((id, r.map_err(|e| format!("node {id} at {addr}: {e}"))));
            }
        }
        out
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
