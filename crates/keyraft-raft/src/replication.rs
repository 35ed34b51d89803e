//! The gRPC `ReplicationService` between regions: a byte-payload client that reaches any node
//! of a destination region, and the server side that hands shipments to a [`ShipHandler`].
//! What the payload means (keyraft-service's `ShipRequest`) is not this crate's business.

// tonic's handlers return `Result<_, tonic::Status>` by value.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyraft_core::Region;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use crate::rpb::replication_service_client::ReplicationServiceClient;
use crate::rpb::replication_service_server::{ReplicationService, ReplicationServiceServer};
use crate::rpb::{ShipReply, ShipRequest};
use crate::tls::{PeerIdentity, PeerInfo, PeerTls};

/// What the server does with a shipment's payload.
pub trait ShipHandler: Send + Sync + 'static {
    fn handle(
        &self,
        from: Region,
        payload: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + '_>>;
}

/// The client: one lazily connected channel per address; a shipment tries the destination's
/// nodes in turn, starting with the one that answered last.
#[derive(Clone)]
pub struct RegionLinks {
    cluster_id: String,
    from: Region,
    endpoints: Arc<BTreeMap<Region, Vec<String>>>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    preferred: Arc<Mutex<HashMap<Region, usize>>>,
    tls: Option<Arc<PeerTls>>,
}

impl RegionLinks {
    /// `endpoints`: for each other region, the Raft (gRPC) addresses of its nodes, `host:port`.
    pub fn new(cluster_id: &str, from: Region, endpoints: BTreeMap<Region, Vec<String>>) -> Self {
        RegionLinks {
            cluster_id: cluster_id.to_owned(),
            from,
            endpoints: Arc::new(endpoints),
            channels: Arc::default(),
            preferred: Arc::default(),
            tls: None,
        }
    }

    /// Ships over mutual TLS: a node of the destination region must present a certificate
    /// naming that region.
    pub fn with_tls(mut self, tls: Arc<PeerTls>) -> Self {
        self.tls = Some(tls);
        self
    }

    fn channel(&self, dest: &Region, addr: &str) -> Result<Channel, String> {
        let mut map = self.channels.lock().map_err(|_| "channel pool poisoned".to_string())?;
        if let Some(c) = map.get(addr) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(crate::tls::endpoint_uri(addr))
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true);
        let ch = match &self.tls {
            Some(tls) => endpoint.connect_with_connector_lazy(tls.connector(dest.clone())),
            None => endpoint.connect_lazy(),
        };
        map.insert(addr.to_owned(), ch.clone());
        Ok(ch)
    }

    /// Sends `payload` to a node of `dest` and returns its answer.
    pub async fn ship(&self, dest: &Region, payload: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, String> {
        let addrs = self.endpoints.get(dest).ok_or_else(|| format!("no endpoints for region {dest}"))?;
        if addrs.is_empty() {
            return Err(format!("no endpoints for region {dest}"));
        }
        let start = self.preferred.lock().ok().and_then(|p| p.get(dest).copied()).unwrap_or(0);
        let mut last = String::new();
        for i in 0..addrs.len() {
            let idx = (start + i) % addrs.len();
            let addr = &addrs[idx];
            let mut client = ReplicationServiceClient::new(self.channel(dest, addr)?)
                .max_decoding_message_size(64 * 1024 * 1024)
                .max_encoding_message_size(64 * 1024 * 1024);
            let req = ShipRequest {
                cluster_id: self.cluster_id.clone(),
                from_region: self.from.to_string(),
                to_region: dest.to_string(),
                payload: payload.clone(),
            };
            match tokio::time::timeout(timeout, client.ship(req)).await {
                Ok(Ok(reply)) => {
                    if let Ok(mut p) = self.preferred.lock() {
                        p.insert(dest.clone(), idx);
                    }
                    return Ok(reply.into_inner().payload);
                }
                Ok(Err(status)) if status.code() == tonic::Code::PermissionDenied => {
                    return Err(format!("{addr}: {}", status.message()));
                }
                Ok(Err(status)) => last = format!("{addr}: {status}"),
                Err(_) => last = format!("{addr}: timed out"),
            }
        }
        Err(last)
    }
}

/// The server side of one node.
pub struct ReplicationGrpc {
    cluster_id: String,
    region: Region,
    /// Regions shipments are accepted from.
    peers: Vec<Region>,
    handler: Arc<dyn ShipHandler>,
    /// Mutual TLS is on: the client certificate must name a node of the sending region.
    require_peer_certificate: bool,
}

impl ReplicationGrpc {
    pub fn server(
        cluster_id: &str,
        region: Region,
        peers: Vec<Region>,
        handler: Arc<dyn ShipHandler>,
        require_peer_certificate: bool,
    ) -> ReplicationServiceServer<ReplicationGrpc> {
        ReplicationServiceServer::new(ReplicationGrpc {
            cluster_id: cluster_id.to_owned(),
            region,
            peers,
            handler,
            require_peer_certificate,
        })
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024)
    }
}

#[tonic::async_trait]
impl ReplicationService for ReplicationGrpc {
    async fn ship(&self, req: Request<ShipRequest>) -> Result<Response<ShipReply>, Status> {
        let peer = req.extensions().get::<PeerInfo>().map(|p| p.identity.clone());
        let req = req.into_inner();
        if req.cluster_id != self.cluster_id || req.to_region != self.region.as_str() {
            return Err(Status::permission_denied(format!(
                "this node serves cluster {} region {}, not cluster {} region {}",
                self.cluster_id, self.region, req.cluster_id, req.to_region
            )));
        }
        let from = Region::parse(&req.from_region)
            .ok()
            .filter(|r| self.peers.contains(r) && *r != self.region)
            .ok_or_else(|| Status::permission_denied(format!("region {} is not a peer region", req.from_region)))?;
        if self.require_peer_certificate {
            match &peer {
                Some(PeerIdentity::Node { region, .. }) if *region == from => {}
                other => {
                    let who = other.as_ref().map_or("no certificate".to_owned(), |i| i.to_string());
                    tracing::warn!(peer = %who, claimed = %from, "refused a shipment: certificate does not match");
                    return Err(Status::permission_denied(format!(
                        "the client certificate names {who}, not a node of region {from}"
                    )));
                }
            }
        }
        let payload = self.handler.handle(from, req.payload).await.map_err(Status::invalid_argument)?;
        Ok(Response::new(ShipReply { payload }))
    }
}
