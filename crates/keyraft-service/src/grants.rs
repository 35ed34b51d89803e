//! Grants in the service: whether a grant allows a request, and grant tokens.
//!
//! A grant token names its grant (key id and grant id) plus a random nonce, so every CreateGrant
//! answers a fresh token while all tokens of one grant retire it alike. Grants are consistent
//! as soon as CreateGrant answers (they go through the region's log and reads pass the read
//! barrier), so tokens are never needed to use a grant; they are accepted everywhere.

use base64::Engine;
use keyraft_core::grants::GrantOperation;
use keyraft_core::{KeyId, KeyRecord, RegionState};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::Caller;

const TOKEN_PREFIX: &str = "keyraft-grant-v1";

/// Operations whose grants' encryption-context constraints apply (those with an encryption
/// context); for the others (DescribeKey, RetireGrant, CreateGrant) constraints do not apply.
fn constrained(op: GrantOperation) -> bool {
    use GrantOperation::*;
    matches!(
        op,
        Encrypt
            | Decrypt
            | GenerateDataKey
            | GenerateDataKeyWithoutPlaintext
            | ReEncryptFrom
            | ReEncryptTo
            | GenerateDataKeyPair
            | GenerateDataKeyPairWithoutPlaintext
    )
}

/// Whether one of `key`'s grants gives `caller` the access.
pub(crate) fn allows(s: &RegionState, caller: &Caller, key: &KeyRecord, access: &Access) -> bool {
    let Some(op) = access.action.strip_prefix("kms:").and_then(GrantOperation::from_aws) else {
        return false;
    };
    let Some(grants) = s.grants.get(&key.id) else { return false };
    grants.values().any(|g| {
        g.grantee == caller.principal
            && g.operations.contains(&op)
            && (!constrained(op)
                || g.constraints.is_empty()
                || access.encryption_context.as_ref().is_some_and(|c| g.constraints.admit(c)))
            && access.new_grant.as_ref().is_none_or(|(ops, constraints)| {
                ops.is_subset(&g.operations) && constraints.at_least_as_strict_as(&g.constraints)
            })
    })
}

/// A new grant token for grant `grant_id` of `key`.
pub(crate) fn token(key: &KeyId, grant_id: &str, nonce: [u8; 16]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{TOKEN_PREFIX}:{key}:{grant_id}:{}", hex_string(&nonce)))
}

/// The key and grant a token names (InvalidGrantTokenException otherwise).
pub(crate) fn parse_token(token: &str) -> Result<(KeyId, String), KmsError> {
    let invalid = || KmsError::InvalidGrantToken("The grant token is not valid.".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(TOKEN_PREFIX), Some(key), Some(grant), Some(_nonce), None) => {
            Ok((KeyId::parse(key).map_err(|_| invalid())?, check_grant_id(grant).map_err(|_| invalid())?.to_owned()))
        }
        _ => Err(invalid()),
    }
}

/// Grant ids are 64 hex digits (InvalidGrantIdException otherwise).
pub(crate) fn check_grant_id(id: &str) -> Result<&str, KmsError> {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(KmsError::InvalidGrantId(format!("Invalid grant ID {id}")))
    }
}

pub(crate) fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_grant_and_differ_per_nonce() {
        let key = KeyId::from_uuid_bytes([3; 16]);
        let id = "0f".repeat(32);
        let a = token(&key, &id, [1; 16]);
        let b = token(&key, &id, [2; 16]);
        assert_ne!(a, b);
        assert_eq!(parse_token(&a).unwrap(), (key.clone(), id.clone()));
        assert_eq!(parse_token(&b).unwrap(), (key.clone(), id));
        assert!(matches!(parse_token("not a token"), Err(KmsError::InvalidGrantToken(_))));
        assert!(matches!(parse_token(&token(&key, "not-a-grant-id", [1; 16])), Err(KmsError::InvalidGrantToken(_))));
        assert!(matches!(parse_token(&format!("{a}!")), Err(KmsError::InvalidGrantToken(_))));
        assert!(matches!(check_grant_id("xyz"), Err(KmsError::InvalidGrantId(_))));
    }
}
