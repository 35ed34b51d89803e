//! keyraft-policy: the AWS IAM / KMS policy language, parsed once and evaluated many times.
//!
//! Pure: no I/O, no clock, no RNG. The current time, when a policy has `Date…` conditions on
//! `aws:CurrentTime` / `aws:EpochTime`, comes in the request [`Context`] like every other key.
//!
//! [`Policy::parse`] validates a key policy ([`PolicyKind::Key`]) or an identity policy
//! ([`PolicyKind::Identity`]) and compiles it: action patterns, resource patterns, principals,
//! numbers, dates and CIDRs are all parsed up front, so [`Policy::evaluate`] does no JSON work
//! and allocates nothing. Evaluation answers for *one* policy ([`Evaluation`]); combining the key
//! policy, identity policies and grants into a decision is the caller's job (explicit deny wins,
//! then an allow from the key policy, or `allow_account` plus an allow from an identity policy).
//!
//! Covered: `Version` (`2012-10-17`, `2008-10-17`, absent), `Id`, `Statement` (object or array)
//! with unique `Sid`s, `Effect`, `Principal` / `NotPrincipal` (`"*"`, `AWS`, and `Service`,
//! `Federated`, `CanonicalUser` accepted but never matching an IAM caller), `Action` /
//! `NotAction` (case-insensitive, `*` and `?`), `Resource` / `NotResource` (case-sensitive, `*`
//! and `?`) and every `Condition` operator of the String, Numeric, Date, Bool, Binary, IP
//! address, ARN and Null families, with `…IfExists` and the `ForAllValues:` / `ForAnyValue:`
//! set operators.
//!
//! Deliberately not covered:
//! - policy variables (`${aws:username}` …) and the `${*}` / `${?}` / `${$}` escapes: they are
//!   matched literally, in both versions;
//! - SCPs, RCPs, permissions boundaries, session policies, and the cross-account / lockout
//!   checks of PutKeyPolicy (they need to know which principals exist — the service's job);
//! - whether a principal ARN names an IAM entity that exists (AWS checks; we only check syntax).
//!
//! Modules:
//!
//! - [`policy`] — [`Policy`], [`PolicyKind`] and the evaluation of statements.
//! - [`parse`] — JSON document → compiled statements, with AWS's error messages.
//! - [`principal`] — `Principal` / `NotPrincipal` entries and how they match a caller.
//! - [`condition`] — condition operators, compiled values and their evaluation.
//! - [`pattern`] — `*` / `?` wildcard patterns.
//! - [`date`], [`ip`] — date-time and CIDR parsing for conditions.
//! - [`request`] — [`Request`], [`Principal`], [`Context`], [`Evaluation`].
//! - [`error`] — [`PolicyError`].

pub mod condition;
pub mod date;
pub mod error;
pub mod ip;
pub mod parse;
pub mod pattern;
pub mod policy;
pub mod principal;
pub mod request;

pub use error::PolicyError;
pub use policy::{Policy, PolicyKind};
pub use request::{Context, Evaluation, Principal, Request};

/// AWS KMS's default key policy for `account`, byte for byte as GetKeyPolicy returns it
/// (no trailing newline).
pub fn default_key_policy(account: &str) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}
