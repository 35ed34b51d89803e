//! `GrpcError` (setting up the edge or a client) and the one mapping of a service error to a
//! gRPC status: the code by the error's kind, the AWS exception name in the metadata entry
//! `x-kms-exception` (from the AWS edge's own mapping, `keyraft_aws::AwsError`), AWS's message.

use keyraft_service::KmsError;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// The metadata entry carrying the AWS exception name of a failed call.
pub const EXCEPTION_HEADER: &str = "x-kms-exception";

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
    let mut s = Status::new(code, message);
    s.metadata_mut().insert(EXCEPTION_HEADER, MetadataValue::from_static(exception));
    s
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
    let aws = keyraft_aws::AwsError::from(e);
    let code = match code {
        Code::Unknown if aws.status >= 500 => Code::Internal,
        Code::Unknown => Code::InvalidArgument,
        c => c,
    };
    status(code, aws.exception, aws.message)
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
}
