//! `GrpcError` (setting up the edge or a client) and the one mapping of a service error to a
//! gRPC status: the code by the error's kind, the AWS exception name in the metadata entry
//! `x-kms-exception` (from the AWS edge's own mapping, `keyraft_aws::AwsError`), AWS's message.

use std::error::Error as _;
use std::sync::Arc;

use keyraft_aws::AwsError;
use keyraft_service::KmsError;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// The metadata entry carrying the AWS exception name of a failed call.
pub const EXCEPTION_HEADER: &str = "x-kms-exception";

/// The metadata entry carrying a call's request id (the audit record's `requestID`, the
/// `KmsRequestId` GetKeyLastUsage reports), on answers and failures alike.
pub const REQUEST_ID_HEADER: &str = "x-kms-request-id";

/// The AWS error a status was made from, kept as the status's source (never sent) for the
/// observers of the edge.
#[derive(Debug)]
struct Exception(AwsError);

impl std::fmt::Display for Exception {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.exception, self.0.message)
    }
}

impl std::error::Error for Exception {}

fn with_exception(code: Code, aws: AwsError) -> Status {
    let mut s = Status::new(code, aws.message.clone());
    s.metadata_mut().insert(EXCEPTION_HEADER, MetadataValue::from_static(aws.exception));
    s.set_source(Arc::new(Exception(aws)));
    s
}

/// The AWS error a status answers (what the audit trail and the metrics record): the one it was
/// made from by [`status`] or [`to_status`], else KMSInternalException with its message.
pub fn aws_error(s: &Status) -> AwsError {
    match s.source().and_then(|e| e.downcast_ref::<Exception>()) {
        Some(e) => e.0.clone(),
        None => AwsError::new("KMSInternalException", 500, s.message()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// `[[grpc_principals]]` is inconsistent.
    #[error("grpc_principals: {0}")]
    Config(String),
    /// Certificates or keys could not be read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The endpoint is malformed or unreachable.
    #[error("connecting to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
}

/// A status with the AWS exception name in [`EXCEPTION_HEADER`].
pub fn status(code: Code, exception: &'static str, message: impl Into<String>) -> Status {
    let http = match code {
        Code::Internal | Code::Unavailable | Code::Unknown | Code::DataLoss => 500,
        _ => 400,
    };
    with_exception(code, AwsError::new(exception, http, message))
}

/// A request the edge refuses before the service sees it (ValidationException).
pub fn invalid(message: impl Into<String>) -> Status {
    status(Code::InvalidArgument, "ValidationException", message)
}

/// The status a service error answers.
pub fn to_status(e: KmsError) -> Status {
    let code = match &e {
        KmsError::NotFound(_) => Code::NotFound,
        KmsError::AlreadyExists(_) => Code::AlreadyExists,
        KmsError::AccessDenied(_) => Code::PermissionDenied,
        KmsError::LimitExceeded(_) => Code::ResourceExhausted,
        // The change is committed and will be delivered; a retry with the same idempotency key
        // is safe.
        KmsError::DependencyTimeout(_) => Code::Unavailable,
        KmsError::Internal(_) => Code::Internal,
        KmsError::Disabled(_) | KmsError::InvalidState(_) | KmsError::Conflict(_) | KmsError::Unsupported(_) => {
            Code::FailedPrecondition
        }
        KmsError::Validation(_)
        | KmsError::InvalidCiphertext(_)
        | KmsError::IncorrectKey(_)
        | KmsError::InvalidKeyUsage(_)
        | KmsError::InvalidSignature(_)
        | KmsError::InvalidMac(_)
        | KmsError::Tag(_)
        | KmsError::InvalidAliasName(_)
        | KmsError::InvalidMarker(_)
        | KmsError::MalformedPolicy(_)
        | KmsError::InvalidArn(_) => Code::InvalidArgument,
        // Grants and imports (not on this API yet), and anything added later: by AWS's status.
        _ => Code::Unknown,
    };
    let aws = AwsError::from(e);
    let code = match code {
        Code::Unknown if aws.status >= 500 => Code::Internal,
        Code::Unknown => Code::InvalidArgument,
        c => c,
    };
    with_exception(code, aws)
}

/// The AWS exception name a status carries, if any (for clients).
pub fn exception(s: &Status) -> Option<&str> {
    s.metadata().get(EXCEPTION_HEADER).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_carry_their_exception_name() {
        let s = to_status(KmsError::NotFound("Key 'x' does not exist".into()));
        assert_eq!((s.code(), exception(&s)), (Code::NotFound, Some("NotFoundException")));
        assert!(s.message().contains("does not exist"));
        let s = to_status(KmsError::Disabled("disabled".into()));
        assert_eq!((s.code(), exception(&s)), (Code::FailedPrecondition, Some("DisabledException")));
        let s = to_status(KmsError::AccessDenied("no".into()));
        assert_eq!((s.code(), exception(&s)), (Code::PermissionDenied, Some("AccessDeniedException")));
        let s = to_status(KmsError::InvalidGrantToken("bad".into()));
        assert_eq!((s.code(), exception(&s)), (Code::InvalidArgument, Some("InvalidGrantTokenException")));
        let s = to_status(KmsError::Internal("boom".into()));
        assert_eq!((s.code(), exception(&s)), (Code::Internal, Some("KMSInternalException")));
    }

    #[test]
    fn a_status_keeps_the_aws_error_it_was_made_from() {
        let e = aws_error(&to_status(KmsError::AccessDenied("no".into())));
        assert_eq!((e.exception, e.status, e.message.as_str()), ("AccessDeniedException", 400, "no"));
        let e = aws_error(&to_status(KmsError::DependencyTimeout("later".into())));
        assert_eq!((e.exception, e.status), ("DependencyTimeoutException", 500));
        let e = aws_error(&invalid("idempotency_key is required"));
        assert_eq!((e.exception, e.status), ("ValidationException", 400));
        // Cloned (tonic hands statuses around by value) and from elsewhere.
        let e = aws_error(&status(Code::PermissionDenied, "UnrecognizedClientException", "who?").clone());
        assert_eq!(e.exception, "UnrecognizedClientException");
        let e = aws_error(&Status::internal("from tonic"));
        assert_eq!((e.exception, e.message.as_str()), ("KMSInternalException", "from tonic"));
    }
}
