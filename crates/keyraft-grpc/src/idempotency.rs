//! Explicit idempotency keys. Every mutating request carries `idempotency_key`; the edge runs the
//! request inside [`keyraft_service::committed::idempotent`], so the n-th command it proposes
//! carries the request id
//!
//! ```text
//! first 16 bytes of SHA-256("keyraft/grpc-idempotency/v1" ‖ 0 ‖ account ‖ 0 ‖ principal ‖ 0 ‖
//!                            operation ‖ 0 ‖ idempotency key ‖ 0 ‖ n (u32 BE))
//! ```
//!
//! Raft apply remembers request ids for 15 minutes and answers a repeat with the first outcome,
//! so a retried request (lost reply, timeout, new connection, other node of the region) applies
//! once. The id is scoped by caller and operation: two principals, or two operations, never share
//! one. A key reused with other parameters answers the first outcome (the parameters are not part
//! of the id).

use sha2::{Digest, Sha256};
use tonic::Status;

use crate::error::invalid;

/// The longest idempotency key accepted.
pub const MAX_LEN: usize = 64;

/// Checks a request's idempotency key: required, 1 to 64 printable ASCII characters.
pub fn check(key: &str) -> Result<&str, Status> {
    if key.is_empty() {
        return Err(invalid("idempotency_key is required for this operation"));
    }
    if key.len() > MAX_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(format!("idempotency_key must be 1 to {MAX_LEN} printable ASCII characters")));
    }
    Ok(key)
}

/// The request-id derivation of one request (see the module documentation).
pub fn derivation(
    account: &str,
    principal: &str,
    operation: &str,
    key: &str,
) -> impl Fn(u32) -> [u8; 16] + Send + Sync {
    let mut base = Sha256::new();
    for part in ["keyraft/grpc-idempotency/v1", account, principal, operation, key] {
        base.update(part.as_bytes());
        base.update([0u8]);
    }
    move |n| {
        let digest = base.clone().chain_update(n.to_be_bytes()).finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_every_part_and_the_proposal_number() {
        let d = derivation("111122223333", "arn:aws:iam::111122223333:root", "CreateKey", "k1");
        assert_eq!(d(0), derivation("111122223333", "arn:aws:iam::111122223333:root", "CreateKey", "k1")(0));
        assert_ne!(d(0), d(1));
        assert_ne!(d(0), derivation("111122223333", "arn:aws:iam::111122223333:root", "CreateKey", "k2")(0));
        assert_ne!(d(0), derivation("111122223333", "arn:aws:iam::111122223333:root", "CreateAlias", "k1")(0));
        assert_ne!(d(0), derivation("111122223333", "arn:aws:iam::111122223333:user/a", "CreateKey", "k1")(0));
        // Field boundaries are unambiguous.
        assert_ne!(derivation("a", "bc", "op", "k")(0), derivation("ab", "c", "op", "k")(0));
    }

    #[test]
    fn keys_are_checked() {
        assert!(check("").is_err());
        assert!(check(&"x".repeat(65)).is_err());
        assert!(check("has space").is_err());
        assert_eq!(check(&"x".repeat(64)).unwrap().len(), 64);
        assert!(check("7f1c2a9e-retry-1").is_ok());
    }
}
