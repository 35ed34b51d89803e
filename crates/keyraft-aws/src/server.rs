//! The axum router of the AWS API: `POST /` with `X-Amz-Target: TrentService.<Operation>`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use keyraft_core::Clock;
use keyraft_service::Kms;
use serde_json::{json, Value};

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

async fn handle(State(st): State<Arc<ApiState>>, req: Request<Body>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut r = match serve(&st, req).await {
        Ok(v) => respond(&request_id, 200, &v),
        Err(e) => {
            tracing::debug!(%request_id, exception = e.exception, message = %e.message, "request refused");
            error_response(&request_id, &e)
        }
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

async fn serve(st: &ApiState, req: Request<Body>) -> Result<Value, AwsError> {
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
    let caller = st.identities.caller(&verified.access_key_id).ok_or_else(|| {
        AwsError::new("UnrecognizedClientException", 400, "The security token included in the request is invalid.")
    })?;
    let unknown = || AwsError::new("UnknownOperationException", 400, "");
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).ok_or_else(unknown)?;
    let op = target.strip_prefix("TrentService.").filter(|op| ALL_OPERATIONS.contains(op)).ok_or_else(unknown)?;
    if parts.method != axum::http::Method::POST {
        return Err(unknown());
    }
    let input = Input::parse(&body)?;
    dispatch(&st.kms, caller, op, &input).await?.ok_or_else(|| {
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
