//! The gRPC `RaftService`: server side. Refuses any request for another deployment or region,
//! and, with mutual TLS, any whose client certificate does not name the node it claims to be.

// tonic's handlers return `Result<_, tonic::Status>` by value; the helpers here follow suit.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use keyraft_store::{NodeId, TypeConfig};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::Serialize;
use tonic::{Request, Response, Status};

use crate::codec;
use crate::membership::MembershipChange;
use crate::node::{ForwardWrite, RegionNode};
use crate::pb::raft_service_server::{RaftService, RaftServiceServer};
use crate::pb::{RaftReply, RaftRequest};
use crate::tls::{PeerIdentity, PeerInfo};

/// The Raft gRPC service of one node.
pub struct RaftGrpc {
    node: Arc<RegionNode>,
}

impl RaftGrpc {
    pub fn server(node: Arc<RegionNode>) -> RaftServiceServer<RaftGrpc> {
        RaftServiceServer::new(RaftGrpc { node })
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024)
    }

    fn check(&self, req: &RaftRequest) -> Result<(), Status> {
        let cfg = self.node.config();
        if req.cluster_id != cfg.cluster_id || req.region != cfg.region.as_str() {
            tracing::warn!(cluster = %req.cluster_id, region = %req.region, from = req.from, "refused Raft RPC for another group");
            return Err(Status::permission_denied(format!(
                "this node serves cluster {} region {}, not cluster {} region {}",
                cfg.cluster_id, cfg.region, req.cluster_id, req.region
            )));
        }
        if !self.node.is_member(req.from) {
            return Err(Status::permission_denied(format!(
                "node {} is not a member of region {}",
                req.from, cfg.region
            )));
        }
        Ok(())
    }

    fn reply<T: Serialize>(v: &T) -> Result<Response<RaftReply>, Status> {
        codec::encode(v)
            .map(|payload| Response::new(RaftReply { payload }))
            .map_err(|e| Status::internal(e.to_string()))
    }

    /// With mutual TLS, the client certificate must name the node the request says it is from,
    /// in this region: a node of another region is refused whatever it claims.
    fn check_peer(&self, peer: Option<&PeerInfo>, req: &RaftRequest) -> Result<(), Status> {
        let cfg = self.node.config();
        if cfg.tls.is_none() {
            return Ok(());
        }
        match peer.map(|p| &p.identity) {
            Some(PeerIdentity::Node { region, node }) if *region == cfg.region && *node == req.from => Ok(()),
            other => {
                let who = other.map_or("no certificate".to_owned(), |i| i.to_string());
                tracing::warn!(peer = %who, from = req.from, "refused Raft RPC: certificate does not match");
                Err(Status::permission_denied(format!(
                    "the client certificate names {who}, not node {} of region {}",
                    req.from, cfg.region
                )))
            }
        }
    }

    fn payload<T: serde::de::DeserializeOwned>(&self, req: Request<RaftRequest>) -> Result<T, Status> {
        let peer = req.extensions().get::<PeerInfo>().cloned();
        let req = req.into_inner();
        self.check(&req)?;
        self.check_peer(peer.as_ref(), &req)?;
        codec::decode(&req.payload).map_err(|e| Status::invalid_argument(e.to_string()))
    }
}

#[tonic::async_trait]
impl RaftService for RaftGrpc {
    async fn append_entries(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = self.payload(req)?;
        let r: Result<_, RaftError<NodeId>> = self.node.raft().append_entries(rpc).await;
        Self::reply(&r)
    }

    async fn vote(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let rpc: VoteRequest<NodeId> = self.payload(req)?;
        let r: Result<_, RaftError<NodeId>> = self.node.raft().vote(rpc).await;
        Self::reply(&r)
    }

    async fn install_snapshot(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let rpc: InstallSnapshotRequest<TypeConfig> = self.payload(req)?;
        let r: Result<_, RaftError<NodeId, InstallSnapshotError>> = self.node.raft().install_snapshot(rpc).await;
        Self::reply(&r)
    }

    async fn forward_write(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let fw: ForwardWrite = self.payload(req)?;
        Self::reply(&self.node.propose_local_indexed(fw.request_id, fw.command).await)
    }

    async fn read_index(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let () = self.payload(req)?;
        Self::reply(&self.node.serve_read_index().await)
    }

    async fn status(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let () = self.payload(req)?;
        Self::reply(&self.node.status().await)
    }

    async fn change_membership(&self, req: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let change: MembershipChange = self.payload(req)?;
        Self::reply(&self.node.change_membership_local(change).await)
    }
}
