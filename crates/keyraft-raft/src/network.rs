//! The openraft network over gRPC: client side. One lazily connected tonic channel per peer
//! address, shared by Raft replication, write forwarding, read barriers and status calls.

use std::collections::HashMap;
use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyraft_store::{NodeId, TypeConfig};
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};

use crate::codec;
use crate::error::RaftNodeError;
use crate::pb::raft_service_client::RaftServiceClient;
use crate::pb::{RaftReply, RaftRequest};
use crate::tls::PeerTls;
use keyraft_core::Region;

/// Which RPC of `RaftService` to call.
#[derive(Debug, Clone, Copy)]
pub enum Rpc {
    AppendEntries,
    Vote,
    InstallSnapshot,
    ForwardWrite,
    ReadIndex,
    Status,
    ChangeMembership,
}

/// The gRPC clients of one node, keyed by peer address.
#[derive(Clone)]
pub struct Clients {
    cluster_id: String,
    region: String,
    from: NodeId,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// Mutual TLS: this node's certificate, and peers must present one naming this region.
    tls: Option<(Arc<PeerTls>, Region)>,
}

impl Clients {
    pub fn new(cluster_id: &str, region: &str, from: NodeId) -> Self {
        Clients {
            cluster_id: cluster_id.to_owned(),
            region: region.to_owned(),
            from,
            channels: Arc::default(),
            tls: None,
        }
    }

    /// Dials peers over mutual TLS; a peer whose certificate does not name a node of `region`
    /// is not talked to.
    pub fn with_tls(mut self, tls: Arc<PeerTls>, region: Region) -> Self {
        self.tls = Some((tls, region));
        self
    }

    fn channel(&self, addr: &str) -> Result<Channel, RaftNodeError> {
        let mut map = self.channels.lock().map_err(|_| RaftNodeError::Transport("client pool poisoned".into()))?;
        if let Some(c) = map.get(addr) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(crate::tls::endpoint_uri(addr))
            .map_err(|e| RaftNodeError::Transport(e.to_string()))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10));
        let ch = match &self.tls {
            Some((tls, region)) => endpoint.connect_with_connector_lazy(tls.connector(region.clone())),
            None => endpoint.connect_lazy(),
        };
        map.insert(addr.to_owned(), ch.clone());
        Ok(ch)
    }

    /// Calls `rpc` on the node at `addr` with a serde payload and decodes the serde reply.
    pub async fn call<Req: Serialize, Rep: DeserializeOwned>(
        &self,
        addr: &str,
        rpc: Rpc,
        req: &Req,
        timeout: Duration,
    ) -> Result<Rep, RaftNodeError> {
        let mut client = RaftServiceClient::new(self.channel(addr)?);
        let request = RaftRequest {
            cluster_id: self.cluster_id.clone(),
            region: self.region.clone(),
            from: self.from,
            payload: codec::encode(req)?,
        };
        let fut = async {
            match rpc {
                Rpc::AppendEntries => client.append_entries(request).await,
                Rpc::Vote => client.vote(request).await,
                Rpc::InstallSnapshot => client.install_snapshot(request).await,
                Rpc::ForwardWrite => client.forward_write(request).await,
                Rpc::ReadIndex => client.read_index(request).await,
                Rpc::Status => client.status(request).await,
                Rpc::ChangeMembership => client.change_membership(request).await,
            }
        };
        let reply: RaftReply = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| RaftNodeError::Timeout)?
            .map_err(|s| match s.code() {
                tonic::Code::PermissionDenied => RaftNodeError::Refused(s.message().to_owned()),
                _ => RaftNodeError::Transport(s.to_string()),
            })?
            .into_inner();
        codec::decode(&reply.payload)
    }
}

/// openraft's network factory.
#[derive(Clone)]
pub struct Network {
    pub clients: Clients,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Connection {
        Connection { clients: self.clients.clone(), target, addr: node.addr.clone() }
    }
}

/// A connection to one peer, as openraft sees it.
pub struct Connection {
    clients: Clients,
    target: NodeId,
    addr: String,
}

impl Connection {
    async fn send<Req, Rep, E>(
        &self,
        rpc: Rpc,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Rep, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Rep: DeserializeOwned,
        E: Error + DeserializeOwned,
    {
        let reply: Result<Rep, RaftError<NodeId, E>> =
            self.clients.call(&self.addr, rpc, req, option.hard_ttl()).await.map_err(|e| match e {
                RaftNodeError::Transport(_) | RaftNodeError::Timeout => RPCError::Unreachable(Unreachable::new(&e)),
                other => RPCError::Network(NetworkError::new(&other)),
            })?;
        reply.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.send(Rpc::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>>
    {
        self.send(Rpc::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.send(Rpc::Vote, &rpc, &option).await
    }
}
