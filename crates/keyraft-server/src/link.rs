//! The cross-region [`Link`] over gRPC (keyraft-raft's `RegionLinks`), and the server-side
//! handler that hands shipments to the node's `Kms`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use keyraft_core::Region;
use keyraft_raft::replication::{RegionLinks, ShipHandler};
use keyraft_service::replication::{Link, ShipRequest};
use keyraft_service::Kms;

/// Wraps the link of a node of the given region, for fault injection (tests cut and heal the
/// links between regions through it).
#[derive(Clone)]
pub struct LinkWrap(pub Arc<WrapFn>);

/// Given a node's region and its link, the link to use instead.
pub type WrapFn = dyn Fn(&Region, Arc<dyn Link>) -> Arc<dyn Link> + Send + Sync;

impl std::fmt::Debug for LinkWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkWrap")
    }
}

/// Shipments over gRPC: the request as JSON, the reply as the destination sealed it.
pub struct GrpcLink(pub RegionLinks);

impl Link for GrpcLink {
    fn ship(
        &self,
        dest: &Region,
        req: ShipRequest,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + '_>> {
        let dest = dest.clone();
        Box::pin(async move {
            let payload = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
            self.0.ship(&dest, payload, Duration::from_secs(4)).await
        })
    }
}

/// Receives shipments for this node's region.
pub struct KmsHandler(pub Arc<Kms>);

impl ShipHandler for KmsHandler {
    fn handle(
        &self,
        from: Region,
        payload: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + '_>> {
        Box::pin(async move {
            let req: ShipRequest = serde_json::from_slice(&payload).map_err(|e| format!("shipment: {e}"))?;
            if req.from != from {
                return Err(format!("shipment claims to come from {} but was sent by {from}", req.from));
            }
            self.0.receive_shipment(req).await
        })
    }
}
