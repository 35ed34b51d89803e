//! The axum router of the AWS API: `POST /` with `X-Amz-Target: TrentService.<Operation>`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use keyraft_core::Clock;
use keyraft_service::{Caller, Kms};
use serde_json::{json, Value};
use tracing::Instrument;

use crate::error::AwsError;
use crate::identity::Identities;
use crate::ops::{dispatch, ALL_OPERATIONS};
use crate::sigv4;
use crate::wire::Input;

/// Largest request body accepted. The largest KMS member (a 6144-byte ciphertext, a 32 KiB
/// policy) fits many times over.
pub const MAX_BODY: usize = 256 * 1024;
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// What the AWS edge of one node needs.
pub struct ApiState {
    pub kms: Arc<Kms>,
    pub identities: Arc<Identities>,
    pub clock: Arc<dyn Clock>,
    /// Told about every request before its response leaves (audit trail, metrics).
    pub observers: Vec<Arc<dyn Observer>>,
    /// Per-account request quotas; `None`: unlimited.
    pub quotas: Option<Arc<crate::quota::Quotas>>,
    /// The listener serves HTTPS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

/// One finished API request, as the audit trail and the metrics see it. `request` is the
/// client's JSON as sent, plaintext included: an observer must pick what it keeps.
pub struct Exchange<'a> {
    pub request_id: &'a str,
    /// A fresh id for this request's audit record (CloudTrail `eventID`), also reported by
    /// GetKeyLastUsage.
    pub event_id: &'a str,
    /// The operation named by `X-Amz-Target`, once known to be one of KMS's.
    pub operation: Option<&'a str>,
    /// The authenticated caller, once SigV4 verified.
    pub caller: Option<&'a Caller>,
    pub access_key_id: Option<&'a str>,
    pub source: Option<std::net::SocketAddr>,
    pub user_agent: Option<&'a str>,
    pub request: Option<&'a serde_json::Map<String, Value>>,
    pub outcome: Result<&'a Value, &'a AwsError>,
    /// Node clock when the request arrived, in ms since the epoch.
    pub received_ms: u64,
    pub elapsed: std::time::Duration,
    /// The Raft log index of the last write the request committed (management events).
    pub raft_index: Option<u64>,
}

/// Something told about every request before its response leaves.
pub trait Observer: Send + Sync {
    /// An error fails the request with KMSInternalException instead of answering it (a
    /// fail-closed audit trail).
    fn observe(&self, exchange: &Exchange<'_>) -> Result<(), String>;
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn respond(request_id: &str, status: u16, body: &Value) -> Response {
    let mut r =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

fn error_response(request_id: &str, e: &AwsError) -> Response {
    let mut r = respond(request_id, e.status, &json!({ "__type": e.exception, "message": e.message }));
    if let Ok(v) = HeaderValue::from_str(e.exception) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// What `serve` learned about a request on the way, for the observers.
#[derive(Default)]
struct Seen {
    operation: Option<&'static str>,
    caller: Option<Caller>,
    access_key_id: Option<String>,
    request: Option<Input>,
}

async fn handle(State(st): State<Arc<ApiState>>, req: Request<Body>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let started = std::time::Instant::now();
    let received_ms = st.clock.now_ms();
    let source = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let user_agent = req.headers().get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(String::from);
    let mut seen = Seen::default();
    let span = tracing::info_span!("request", id = %request_id, op = tracing::field::Empty);
    let (outcome, raft_index) =
        keyraft_service::committed::track(serve(&st, req, &mut seen).instrument(span.clone())).await;
    let _entered = span.enter();
    if let Err(e) = &outcome {
        tracing::debug!(%request_id, exception = e.exception, message = %e.message, "request refused");
    }
    let event_id = uuid::Uuid::new_v4().to_string();
    let exchange = Exchange {
        request_id: &request_id,
        event_id: &event_id,
        operation: seen.operation,
        caller: seen.caller.as_ref(),
        access_key_id: seen.access_key_id.as_deref(),
        source,
        user_agent: user_agent.as_deref(),
        request: seen.request.as_ref().map(Input::members),
        outcome: outcome.as_ref(),
        received_ms,
        elapsed: started.elapsed(),
        raft_index,
    };
    let observed = st.observers.iter().try_for_each(|o| o.observe(&exchange));
    let mut r = match (outcome, observed) {
        (_, Err(why)) => {
            tracing::error!(%request_id, error = %why, "request not recorded; refusing it");
            error_response(
                &request_id,
                &AwsError::new("KMSInternalException", 500, "The request could not be recorded"),
            )
        }
        (Ok(v), Ok(())) => respond(&request_id, 200, &v),
        (Err(e), Ok(())) => error_response(&request_id, &e),
    };
    // The `Date` header comes from the clock SigV4 is verified against (hyper would otherwise
    // add the system time): AWS SDKs correct their signing time by the skew they see in it.
    if let Some(v) = http_date(st.clock.now_ms()).and_then(|d| HeaderValue::from_str(&d).ok()) {
        r.headers_mut().insert(axum::http::header::DATE, v);
    }
    r
}

/// `ms` since the epoch as an HTTP date (IMF-fixdate, RFC 9110): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(ms: u64) -> Option<String> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let t = time::OffsetDateTime::from_unix_timestamp(i64::try_from(ms / 1000).ok()?).ok()?;
    Some(format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

async fn serve(st: &ApiState, req: Request<Body>, seen: &mut Seen) -> Result<Value, AwsError> {
    let (mut parts, body) = req.into_parts();
    // HTTP/2 clients send `:authority` instead of `Host`; SigV4 signs it as `host`.
    if !parts.headers.contains_key(axum::http::header::HOST) {
        if let Some(v) = parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            parts.headers.insert(axum::http::header::HOST, v);
        }
    }
    let body: Bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        AwsError::new("RequestEntityTooLargeException", 413, format!("Request body must be at most {MAX_BODY} bytes"))
    })?;
    let now = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(st.clock.now_ms()) * 1_000_000)
        .map_err(|_| AwsError::new("KMSInternalException", 500, "clock out of range"))?;
    seen.operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("TrentService."))
        .and_then(|op| ALL_OPERATIONS.iter().copied().find(|o| *o == op));
    let verified = sigv4::verify(
        &sigv4::SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body: &body,
        },
        &sigv4::Expected { region: st.kms.region().as_str(), service: "kms", now },
        st.identities.as_ref(),
    )
    .map_err(|e| AwsError::new(e.aws_exception(), e.http_status(), e.to_string()))?;
    let unknown = || AwsError::new("UnknownOperationException", 400, "");
    seen.access_key_id = Some(verified.access_key_id.clone());
    let caller = st.identities.caller(&verified.access_key_id).ok_or_else(|| {
        AwsError::new("UnrecognizedClientException", 400, "The security token included in the request is invalid.")
    })?;
    // The caller as this request sees it: with its source address (`aws:SourceIp`).
    let caller = &*seen.caller.insert(Caller {
        source_ip: parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()),
        secure_transport: st.secure_transport,
        ..caller.clone()
    });
    let op = seen.operation.ok_or_else(unknown)?;
    tracing::Span::current().record("op", op);
    if parts.method != axum::http::Method::POST {
        return Err(unknown());
    }
    let input = seen.request.insert(Input::parse(&body)?);
    if let Some(q) = &st.quotas {
        q.check(&caller.account, op, || crate::quota::key_spec(&st.kms, &caller.account, input.members()))?;
    }
    dispatch(&st.kms, caller, op, input).await?.ok_or_else(|| {
        AwsError::new("UnsupportedOperationException", 400, format!("{op} is not supported by this keyraft version"))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates() {
        assert_eq!(super::http_date(784_111_777_000).as_deref(), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert_eq!(super::http_date(0).as_deref(), Some("Thu, 01 Jan 1970 00:00:00 GMT"));
    }
}
