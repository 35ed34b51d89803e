//! The crate's error enum.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RaftNodeError {
    #[error("no leader could be reached in time")]
    NoLeader,
    #[error("the operation timed out")]
    Timeout,
    #[error("the node is shutting down")]
    ShuttingDown,
    #[error("codec: {0}")]
    Codec(String),
    #[error("storage: {0}")]
    Storage(String),
    #[error("transport: {0}")]
    Transport(String),
    #[error("raft: {0}")]
    Raft(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("TLS: {0}")]
    Tls(String),
}
