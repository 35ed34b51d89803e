//! Key policy documents: the default policy AWS writes, the length limit and policy names.
//! Parsing and enforcement are in `authz`.

use keyraft_core::AccountId;

use crate::error::KmsError;

/// AWS's limit on a key policy document, in characters.
pub const MAX_POLICY_CHARS: usize = 32768;

/// The default key policy AWS attaches to a key created without one.
pub fn default_policy(account: &AccountId) -> String {
    keyraft_policy::default_key_policy(account.as_str())
}

/// AWS's length limit; the document itself is parsed (MalformedPolicyDocumentException) by
/// `authz::check_new_policy`.
pub fn validate_policy(policy: &str) -> Result<(), KmsError> {
    if policy.is_empty() || policy.chars().count() > MAX_POLICY_CHARS {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length between 1 and {MAX_POLICY_CHARS}"
        )));
    }
    Ok(())
}

/// Key policy names: only `default` exists.
pub fn check_policy_name(name: Option<&str>) -> Result<String, KmsError> {
    match name.unwrap_or("default") {
        "default" => Ok("default".into()),
        other => Err(KmsError::NotFound(format!("No such policy exists: {other}"))),
    }
}
