//! The admin HTTP API: `/v1/status` (every node of the region), `/v1/replication` (outbox depth
//! and lag per destination region), `/v1/dr/status` and `POST /v1/dr/promote` (multi-region
//! keys: roles, epochs, forced promotion), `GET`/`POST /v1/membership` (the region's voters and
//! learners; add a learner, promote, remove), `GET /v1/tls` and `POST /v1/tls/reload` (the node's
//! certificate; rotation), `GET /v1/backup` and `POST /v1/restore` (an
//! encrypted backup of the region state; restore into a region holding no key), `/healthz`,
//! `/readyz` (readiness) and `/metrics` (Prometheus).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use std::collections::BTreeMap;

use axum::routing::{get, post};
use axum::{Json, Router};
use keyraft_core::KeyId;
use keyraft_raft::membership::{MembershipChange, MembershipView};
use keyraft_raft::tls::{CertSummary, NodeCert, PeerIdentity};
use keyraft_raft::{NodeStatus, RaftNodeError};
use keyraft_service::ops::Promotion;
use keyraft_service::replication::DestinationStatus;
use keyraft_service::Kms;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::AuditLog;
use crate::metrics::NodeMetrics;

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

pub fn router(
    kms: Arc<Kms>,
    metrics: Arc<NodeMetrics>,
    tls: Option<Arc<NodeCert>>,
    audit: Option<Arc<AuditLog>>,
) -> Router {
    // With [tls] the admin API is HTTPS and the operations that change or export the region need
    // an operator's client certificate; without it (`keyraft dev`) everything is open. Either
    // way they are recorded in the audit trail.
    let gate = Gate { operator_required: tls.is_some(), audit, kms: kms.clone() };
    let scrape = Router::new().route("/metrics", get(scrape)).with_state(metrics);
    let open_tls = Router::new().route("/v1/tls", get(tls_status)).with_state(tls.clone());
    let operator_tls = Router::new().route("/v1/tls/reload", post(tls_reload)).with_state(tls);
    let operator = Router::new()
        .route("/v1/dr/promote", post(dr_promote))
        .route("/v1/membership", post(change_membership))
        .route("/v1/backup", get(backup))
        .route("/v1/restore", post(restore).layer(DefaultBodyLimit::max(keyraft_service::backup::MAX_RESTORE_BYTES)))
        .with_state(kms.clone())
        .merge(operator_tls)
        .layer(axum::middleware::from_fn_with_state(gate, require_operator));
    Router::new()
        .route("/v1/status", get(status))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/replication", get(replication))
        .route("/v1/dr/status", get(dr_status))
        .route("/v1/membership", get(membership))
        .with_state(kms)
        .merge(scrape)
        .merge(open_tls)
        .merge(operator)
}

/// Whether the operator routes need an operator certificate (the admin API serves HTTPS), and
/// where their operations are recorded.
#[derive(Clone)]
struct Gate {
    operator_required: bool,
    audit: Option<Arc<AuditLog>>,
    kms: Arc<Kms>,
}

/// Who the TLS client certificate of an admin request names (`None`: no certificate). The HTTPS
/// listener puts it in every request's extensions (`crate::tls::serve`).
#[derive(Debug, Clone)]
pub struct ClientIdentity(pub Option<PeerIdentity>);

/// The audit trail's name of an operator route.
fn event_name(path: &str) -> &'static str {
    match path {
        "/v1/backup" => "Backup",
        "/v1/restore" => "Restore",
        "/v1/membership" => "ChangeMembership",
        "/v1/dr/promote" => "ForcePromote",
        "/v1/tls/reload" => "ReloadCertificate",
        _ => "AdminOperation",
    }
}

/// Control requests and answers up to this size go into the audit record as JSON; larger bodies
/// (a backup file, a restore's upload) by their size only.
const RECORDED_BODY: usize = 64 * 1024;

/// What the audit record shows of a body: JSON as it is (small control requests and answers),
/// a plain-text error as text, anything else (a backup file, a restore's upload) by its size.
fn recorded(bytes: &[u8], headers: &axum::http::HeaderMap) -> Value {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    match bytes.len() {
        0 => Value::Null,
        n if n <= RECORDED_BODY && kind.starts_with("application/json") => {
            serde_json::from_slice(bytes).unwrap_or_else(|_| serde_json::json!({ "bytes": n }))
        }
        n if n <= RECORDED_BODY && kind.starts_with("text/plain") => {
            Value::String(String::from_utf8_lossy(bytes).trim().to_owned())
        }
        n => serde_json::json!({ "bytes": n }),
    }
}

/// Lets an operator route through only for a client certificate naming an operator
/// (`keyraft://operator/<name>`, issued by the deployment CA: the TLS layer checked the chain);
/// 403 otherwise, the request unseen by the handler. Every call, admitted or refused, becomes a
/// record of the node's hash-chained audit trail (`AuditLog::record_admin`) before the answer
/// leaves; a record that cannot be written turns the answer into 500.
async fn require_operator(
    State(gate): State<Gate>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let who = req.extensions().get::<ClientIdentity>().and_then(|c| c.0.clone());
    let source = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let received_ms = gate.kms.node().clock().now_ms();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let name = event_name(&path);
    let admitted = !gate.operator_required || matches!(who, Some(PeerIdentity::Operator(_)));
    // The body is read here (within the restore limit) so the record can show the parameters.
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, keyraft_service::backup::MAX_RESTORE_BYTES).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response(),
    };
    let request = recorded(&bytes, &parts.headers);
    let response = if admitted {
        if let Some(PeerIdentity::Operator(op)) = &who {
            tracing::info!(operator = %op, %method, %path, "admin operation");
        }
        next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
    } else {
        let shown = who.as_ref().map_or("no client certificate".to_owned(), |i| i.to_string());
        tracing::warn!(client = %shown, %method, %path, "admin operation refused");
        (
            StatusCode::FORBIDDEN,
            format!(
                "{method} {path} needs an operator client certificate (keyraft://operator/<name>) of the deployment CA; the request had {shown}\n"
            ),
        )
            .into_response()
    };
    let Some(audit) = &gate.audit else { return response };
    let (rparts, rbody) = response.into_parts();
    let rbytes = match axum::body::to_bytes(rbody, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("reading the answer: {e}\n")).into_response(),
    };
    let client = who.as_ref().map(|i| i.to_string());
    let (request_id, event_id) = (new_id(), new_id());
    let event = crate::audit::AdminEvent {
        name,
        client: client.as_deref(),
        source,
        request,
        status: rparts.status.as_u16(),
        response: recorded(&rbytes, &rparts.headers),
        received_ms,
        request_id: &request_id,
        event_id: &event_id,
    };
    if let Err(e) = audit.record_admin(&event) {
        tracing::error!(error = %e, %path, "admin operation not recorded in the audit trail");
        return (StatusCode::INTERNAL_SERVER_ERROR, "the operation could not be recorded in the audit trail\n")
            .into_response();
    }
    axum::response::Response::from_parts(rparts, axum::body::Body::from(rbytes))
}

/// A random id in UUID form (audit request and event ids of admin operations).
fn new_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `GET /v1/tls`: the node's current certificate (identity, serial, expiry); 404 without `[tls]`.
async fn tls_status(State(tls): State<Option<Arc<NodeCert>>>) -> Result<Json<CertSummary>, (StatusCode, String)> {
    let cert = tls.ok_or((StatusCode::NOT_FOUND, "this node runs without [tls]".to_owned()))?;
    cert.summary().map(Json).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// `POST /v1/tls/reload`: reads the node's certificate and key files again and, if they hold a
/// valid pair naming this node, serves new TLS handshakes with them (certificate rotation; open
/// connections keep theirs). 409 with the reason otherwise, the current certificate staying.
async fn tls_reload(State(tls): State<Option<Arc<NodeCert>>>) -> Result<Json<CertSummary>, (StatusCode, String)> {
    let cert = tls.ok_or((StatusCode::NOT_FOUND, "this node runs without [tls]".to_owned()))?;
    cert.reload().map(Json).map_err(|e| {
        tracing::warn!(error = %e, "TLS certificate reload refused");
        (StatusCode::CONFLICT, e.to_string())
    })
}

/// The admin API's status for a service error.
fn error_status(e: &keyraft_service::KmsError) -> StatusCode {
    use keyraft_service::KmsError;
    match e {
        KmsError::Validation(_) => StatusCode::BAD_REQUEST,
        KmsError::Conflict(_) | KmsError::AlreadyExists(_) | KmsError::InvalidState(_) => StatusCode::CONFLICT,
        KmsError::DependencyTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `GET /v1/backup`: the region's state after the read barrier, as an encrypted backup file
/// (`keyraft_crypto::backup`, format 1).
async fn backup(State(kms): State<Arc<Kms>>) -> Result<impl IntoResponse, (StatusCode, String)> {
    let (file, _) = kms.backup().await.map_err(|e| (error_status(&e), e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], file))
}

/// `POST /v1/restore` (body: a backup file): restores it into this region, which must hold no
/// key, alias or grant. 400 for a file that does not open under this region's root key, is
/// altered or of another region; 409 for a region that is not empty. Nothing changes on error.
async fn restore(
    State(kms): State<Arc<Kms>>,
    body: Bytes,
) -> Result<Json<keyraft_service::backup::BackupSummary>, (StatusCode, String)> {
    kms.restore(&body).await.map(Json).map_err(|e| (error_status(&e), e.to_string()))
}

/// `GET /v1/membership`: the region's voters, learners and their Raft addresses, as this node
/// knows them.
async fn membership(State(kms): State<Arc<Kms>>) -> Json<MembershipView> {
    Json(kms.node().membership_view())
}

/// `POST /v1/membership` (body: `{"action": "add-learner", "id": 4, "raft_addr": "host:port"}`,
/// `{"action": "promote", "id": 4}` or `{"action": "remove", "id": 1}`): the change, made on the
/// region's leader; answers the new membership. 409 with the reason for a change that cannot be
/// made, 503 when no leader answered in time.
async fn change_membership(
    State(kms): State<Arc<Kms>>,
    Json(change): Json<MembershipChange>,
) -> Result<Json<MembershipView>, (StatusCode, String)> {
    kms.node().change_membership(change).await.map(Json).map_err(|e| match e {
        RaftNodeError::Refused(why) => (StatusCode::CONFLICT, why),
        RaftNodeError::NoLeader | RaftNodeError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        other => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    })
}

/// `/metrics`: the node's Prometheus text exposition.
async fn scrape(State(metrics): State<Arc<NodeMetrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], metrics.render().await)
}

/// `/readyz`: 200 when this node knows a leader of its region and has applied every entry it
/// knows committed (it answers reads without waiting to catch up); 503 with the reason otherwise.
async fn readyz(State(kms): State<Arc<Kms>>) -> (StatusCode, Json<serde_json::Value>) {
    let s = kms.node().status().await;
    let reason = if s.state == "Shutdown" {
        Some("shutting down".to_owned())
    } else if s.leader.is_none() {
        Some("no known leader of the region".to_owned())
    } else if s.applied_index < s.committed_index {
        Some(format!(
            "applied index {} is behind committed index {}",
            s.applied_index.unwrap_or(0),
            s.committed_index.unwrap_or(0)
        ))
    } else {
        None
    };
    let body = serde_json::json!({
        "ready": reason.is_none(),
        "reason": reason,
        "leader": s.leader,
        "committed_index": s.committed_index,
        "applied_index": s.applied_index,
    });
    let code = if reason.is_none() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}

/// `/v1/replication`: this region's outbox per destination region, as this node sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicationReport {
    pub region: String,
    pub answered_by: u64,
    /// Shipping counters and lag come from the shipper, which runs on the leader.
    pub leader: bool,
    pub destinations: BTreeMap<String, DestinationStatus>,
}

async fn replication(State(kms): State<Arc<Kms>>) -> Json<ReplicationReport> {
    let node = kms.node();
    Json(ReplicationReport {
        region: node.config().region.to_string(),
        answered_by: node.config().node_id,
        leader: node.raft().metrics().borrow().current_leader == Some(node.config().node_id),
        destinations: kms.replication_status().into_iter().map(|(r, d)| (r.to_string(), d)).collect(),
    })
}

async fn dr_status(State(kms): State<Arc<Kms>>) -> Json<crate::dr::DrStatus> {
    Json(crate::dr::DrStatus::of(&kms))
}

/// `POST /v1/dr/promote` body: `{"keys": ["mrk-…"]}` or `{"all": true}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PromoteRequest {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub all: bool,
}

async fn dr_promote(
    State(kms): State<Arc<Kms>>,
    Json(req): Json<PromoteRequest>,
) -> Result<Json<Vec<Promotion>>, (StatusCode, String)> {
    let keys = if req.all {
        None
    } else {
        if req.keys.is_empty() {
            return Err((StatusCode::BAD_REQUEST, "name keys or set all".into()));
        }
        let ids: Result<Vec<KeyId>, _> = req.keys.iter().map(|k| KeyId::parse(k)).collect();
        Some(ids.map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?)
    };
    kms.force_promote(keys).await.map(Json).map_err(|e| (StatusCode::CONFLICT, e.to_string()))
}

async fn status(State(kms): State<Arc<Kms>>) -> Json<RegionStatus> {
    let node = kms.node();
    let nodes = node
        .region_status()
        .await
        .into_iter()
        .map(|(node_id, r)| match r {
            Ok(s) => NodeEntry { node_id, status: Some(s), error: None },
            Err(e) => NodeEntry { node_id, status: None, error: Some(e) },
        })
        .collect();
    Json(RegionStatus { region: node.config().region.to_string(), answered_by: node.config().node_id, nodes })
}

/// 200 when this node knows a leader of its region, 503 otherwise.
async fn healthz(State(kms): State<Arc<Kms>>) -> (StatusCode, &'static str) {
    if kms.node().raft().metrics().borrow().current_leader.is_some() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no leader\n")
    }
}
