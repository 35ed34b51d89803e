//! The core's error enum. AWS exception names are chosen in the AWS edge, not here.

use serde::{Deserialize, Serialize};

use crate::model::KeyState;

/// Every way a core decision can refuse a request. Structured so that each edge maps it to its
/// own vocabulary (AWS exception, gRPC status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CoreError {
    #[error("{what} is not a valid {kind}")]
    InvalidId { kind: String, what: String },
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{arn} is {}.", state_phrase(*state))]
    InvalidState { arn: String, state: KeyState },
    #[error("{0}")]
    InvalidStateMessage(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    Unsupported(String),
    /// ImportKeyMaterial: not the material previously imported into the key.
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    /// A rotation of a multi-region key is still being staged in its replica regions.
    /// Appended after format 1's variants (stored in remembered results).
    #[error("{0}")]
    Conflict(String),
}

fn state_phrase(state: KeyState) -> &'static str {
    match state {
        KeyState::Creating => "being created",
        KeyState::Enabled => "enabled",
        KeyState::Disabled => "disabled",
        KeyState::PendingDeletion => "pending deletion",
        KeyState::PendingImport => "pending import",
        KeyState::PendingReplicaDeletion => "pending replica deletion",
        KeyState::Unavailable => "unavailable",
        KeyState::Updating => "being updated",
    }
}
