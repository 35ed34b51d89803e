//! Encoding of openraft messages inside the protobuf envelope: JSON through serde. Chosen for
//! robustness (every openraft type round-trips) over speed; the envelope makes it replaceable.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::RaftNodeError;

pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, RaftNodeError> {
    serde_json::to_vec(v).map_err(|e| RaftNodeError::Codec(e.to_string()))
}

pub fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, RaftNodeError> {
    serde_json::from_slice(b).map_err(|e| RaftNodeError::Codec(e.to_string()))
}
