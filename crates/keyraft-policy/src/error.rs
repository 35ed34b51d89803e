//! The crate's error enum and the AWS messages it carries.

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The message is what AWS KMS puts in MalformedPolicyDocumentException for this problem.
    #[error("{0}")]
    Malformed(String),
}

impl PolicyError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        PolicyError::Malformed(message.into())
    }
}

/// Messages AWS uses in MalformedPolicyDocumentException (KMS) or MalformedPolicyDocument (IAM).
pub mod messages {
    /// KMS, for a Principal that is not `"*"`, not a valid IAM/STS ARN or account id.
    pub const INVALID_PRINCIPALS: &str = "Policy contains a statement with one or more invalid principals.";
    /// KMS, for a key-policy statement with neither Principal nor NotPrincipal.
    pub const NO_PRINCIPAL: &str = "Policy contains a statement with no principal.";
    /// IAM, for a Principal or NotPrincipal in an identity policy.
    pub const PRINCIPAL_NOT_ALLOWED: &str = "Policy document should not specify a principal.";
    /// IAM, for a document that is not JSON or not shaped like a policy.
    pub const SYNTAX: &str = "Syntax errors in policy.";
    /// IAM, for a statement without Action or NotAction.
    pub const NO_ACTIONS: &str = "Policy statement must contain actions.";
    /// IAM, for a statement without Resource or NotResource.
    pub const NO_RESOURCES: &str = "Policy statement must contain resources.";
    /// IAM, for an action without a service prefix (`"Encrypt"` instead of `"kms:Encrypt"`).
    pub const ACTION_VENDOR: &str = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
    /// IAM, for repeated Sids.
    pub const DUPLICATE_SID: &str = "Statement IDs (SID) in a single policy must be unique.";
    /// IAM, for a Sid with characters other than ASCII letters and digits (identity policies).
    pub const SID_CHARSET: &str = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*";
    /// IAM, for an unknown Version.
    pub const LEGACY_PARSING: &str = "The policy failed legacy parsing";
}
