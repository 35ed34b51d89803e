//! `EncryptionContext`: a string map bound into a ciphertext as additional authenticated data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// Largest encryption context keyraft accepts, in bytes of keys and values together.
pub const MAX_CONTEXT_BYTES: usize = 8192;

/// An encryption context. Order-insensitive by construction (a sorted map); its canonical bytes
/// are what the ciphertext authenticates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new(map: BTreeMap<String, String>) -> Result<Self, CoreError> {
        let size: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_CONTEXT_BYTES {
            return Err(CoreError::Validation(format!(
                "Encryption context is {size} bytes; the limit is {MAX_CONTEXT_BYTES}"
            )));
        }
        Ok(EncryptionContext(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Canonical bytes: pair count, then each pair sorted by key as (len, key, len, value), all
    /// lengths u32 big-endian. Frozen: part of ciphertext format v1.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.0.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>());
        out.extend_from_slice(&(self.0.len() as u32).to_be_bytes());
        for (k, v) in &self.0 {
            out.extend_from_slice(&(k.len() as u32).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_is_order_insensitive_and_unambiguous() {
        let a = EncryptionContext::new([("b".into(), "2".into()), ("a".into(), "1".into())].into()).unwrap();
        let b = EncryptionContext::new([("a".into(), "1".into()), ("b".into(), "2".into())].into()).unwrap();
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
        let c = EncryptionContext::new([("a".into(), "1b".into()), ("".into(), "2".into())].into()).unwrap();
        assert_ne!(a.canonical_bytes(), c.canonical_bytes());
        assert!(EncryptionContext::new([("k".into(), "v".repeat(9000))].into()).is_err());
    }
}
