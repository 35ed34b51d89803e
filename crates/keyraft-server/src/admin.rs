//! The admin HTTP API: `/v1/status` (every node of the region) and `/healthz`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use keyraft_raft::{NodeStatus, RegionNode};
use serde::{Deserialize, Serialize};

/// `/v1/status`: the answering node and every voter of its region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionStatus {
    pub region: String,
    pub answered_by: u64,
    pub nodes: Vec<NodeEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeEntry {
    pub node_id: u64,
    pub status: Option<NodeStatus>,
    pub error: Option<String>,
}

pub fn router(node: Arc<RegionNode>) -> Router {
    Router::new().route("/v1/status", get(status)).route("/healthz", get(healthz)).with_state(node)
}

async fn status(State(node): State<Arc<RegionNode>>) -> Json<RegionStatus> {
    let ids: Vec<u64> = node.config().peers.keys().copied().collect();
    let nodes = node
        .region_status()
        .await
        .into_iter()
        .zip(ids)
        .map(|(r, node_id)| match r {
            Ok(s) => NodeEntry { node_id, status: Some(s), error: None },
            Err(e) => NodeEntry { node_id, status: None, error: Some(e) },
        })
        .collect();
    Json(RegionStatus { region: node.config().region.to_string(), answered_by: node.config().node_id, nodes })
}

/// 200 when this node knows a leader of its region, 503 otherwise.
async fn healthz(State(node): State<Arc<RegionNode>>) -> (StatusCode, &'static str) {
    if node.raft().metrics().borrow().current_leader.is_some() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no leader\n")
    }
}
