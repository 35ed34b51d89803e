//! Key policy documents: the default policy AWS writes and the shape checks done before storing
//! one. Enforcement comes with the access-control work.

use keyraft_core::AccountId;

use crate::error::KmsError;

/// AWS's limit on a key policy document, in characters.
pub const MAX_POLICY_CHARS: usize = 32768;

/// The default key policy AWS attaches to a key created without one.
pub fn default_policy(account: &AccountId) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// A policy must be a JSON object with a `Statement`.
pub fn validate_policy(policy: &str) -> Result<(), KmsError> {
    if policy.is_empty() || policy.chars().count() > MAX_POLICY_CHARS {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length between 1 and {MAX_POLICY_CHARS}"
        )));
    }
    let doc: serde_json::Value = serde_json::from_str(policy).map_err(|_| {
        KmsError::MalformedPolicy(
            "The new key policy will not allow you to update the key policy in the future.".into(),
        )
    })?;
    match doc.get("Statement") {
        Some(serde_json::Value::Array(_)) | Some(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(KmsError::MalformedPolicy(
            "Policy contains a statement with no principal or the Statement is missing".into(),
        )),
    }
}

/// Key policy names: only `default` exists.
pub fn check_policy_name(name: Option<&str>) -> Result<String, KmsError> {
    match name.unwrap_or("default") {
        "default" => Ok("default".into()),
        other => Err(KmsError::NotFound(format!("No such policy exists: {other}"))),
    }
}
