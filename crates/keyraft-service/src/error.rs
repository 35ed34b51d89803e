//! The service's error enum. Structured; the AWS edge maps each variant to an AWS exception and
//! the gRPC edge to a status.

use keyraft_core::CoreError;
use keyraft_raft::RaftNodeError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidCiphertext(String),
    #[error("{0}")]
    IncorrectKey(String),
    #[error("{0}")]
    InvalidKeyUsage(String),
    /// Verify: the signature does not match.
    #[error("{0}")]
    InvalidSignature(String),
    /// VerifyMac: the MAC does not match.
    #[error("{0}")]
    InvalidMac(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    InvalidMarker(String),
    #[error("{0}")]
    MalformedPolicy(String),
    /// The key policy, identity policies and grants do not allow the request.
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidGrantToken(String),
    #[error("{0}")]
    InvalidGrantId(String),
    #[error("{0}")]
    InvalidArn(String),
    /// The region's Raft group could not be reached in time (no leader, partition).
    #[error("{0}")]
    DependencyTimeout(String),
    #[error("{0}")]
    Internal(String),
    /// ImportKeyMaterial: not the key's material (or not a valid one).
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    /// ImportKeyMaterial: the import token is damaged or belongs to another key.
    #[error("{0}")]
    InvalidImportToken(String),
    /// ImportKeyMaterial: the import token's 24 hours have passed.
    #[error("{0}")]
    ExpiredImportToken(String),
    /// RotateKeyOnDemand: a rotation is still in progress.
    #[error("{0}")]
    Conflict(String),
}

impl From<CoreError> for KmsError {
    fn from(e: CoreError) -> Self {
        let msg = e.to_string();
        match e {
            CoreError::InvalidId { .. } | CoreError::Validation(_) => KmsError::Validation(msg),
            CoreError::NotFound(_) => KmsError::NotFound(msg),
            CoreError::AlreadyExists(_) => KmsError::AlreadyExists(msg),
            CoreError::Disabled(_) => KmsError::Disabled(msg),
            CoreError::InvalidState { .. } | CoreError::InvalidStateMessage(_) => KmsError::InvalidState(msg),
            CoreError::LimitExceeded(_) => KmsError::LimitExceeded(msg),
            CoreError::InvalidAliasName(_) => KmsError::InvalidAliasName(msg),
            CoreError::Tag(_) => KmsError::Tag(msg),
            CoreError::Unsupported(_) => KmsError::Unsupported(msg),
            CoreError::IncorrectKeyMaterial(_) => KmsError::IncorrectKeyMaterial(msg),
            CoreError::Conflict(_) => KmsError::Conflict(msg),
        }
    }
}

impl From<RaftNodeError> for KmsError {
    fn from(e: RaftNodeError) -> Self {
        match e {
            RaftNodeError::NoLeader | RaftNodeError::Timeout | RaftNodeError::Transport(_) => {
                KmsError::DependencyTimeout(format!("The region's key store did not answer in time: {e}"))
            }
            other => KmsError::Internal(format!("Internal error: {other}")),
        }
    }
}
