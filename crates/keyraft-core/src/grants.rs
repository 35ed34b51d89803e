//! Grants: permissions on one key for one principal, created, retired and revoked through the
//! region's Raft log, so a grant (or its revocation) is in force on every node of the region
//! once acknowledged.
//!
//! The grant id is generated before proposing (like key material); apply only checks and
//! stores. A `Name` makes CreateGrant idempotent: the same name with the same grantee,
//! retiring principal, operations and constraints answers the existing grant's id.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::ids::{AccountId, KeyId};
use crate::model::{KeyRecord, KeySpec, KeyState, KeyUsage};

/// Grants per key (AWS: 50,000).
pub const MAX_GRANTS_PER_KEY: usize = 50_000;

aws_enum!(
    /// AWS `GrantOperation`.
    GrantOperation {
        Decrypt = "Decrypt",
        Encrypt = "Encrypt",
        GenerateDataKey = "GenerateDataKey",
        GenerateDataKeyWithoutPlaintext = "GenerateDataKeyWithoutPlaintext",
        ReEncryptFrom = "ReEncryptFrom",
        ReEncryptTo = "ReEncryptTo",
        Sign = "Sign",
        Verify = "Verify",
        GetPublicKey = "GetPublicKey",
        CreateGrant = "CreateGrant",
        RetireGrant = "RetireGrant",
        DescribeKey = "DescribeKey",
        GenerateDataKeyPair = "GenerateDataKeyPair",
        GenerateDataKeyPairWithoutPlaintext = "GenerateDataKeyPairWithoutPlaintext",
        GenerateMac = "GenerateMac",
        VerifyMac = "VerifyMac",
        DeriveSharedSecret = "DeriveSharedSecret",
        Encapsulate = "Encapsulate",
        Decapsulate = "Decapsulate",
    }
);

/// AWS `GrantConstraints` (encryption-context constraints; `SourceArn` applies to AWS services
/// only and is not supported).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantConstraints {
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

impl GrantConstraints {
    /// Whether a request's encryption context satisfies the constraints. Keys compare without
    /// regard to case, values exactly (AWS's rule for grant constraints).
    pub fn admit(&self, context: &BTreeMap<String, String>) -> bool {
        let folded: BTreeMap<String, &String> = context.iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
        let contains = |want: &BTreeMap<String, String>| {
            want.iter().all(|(k, v)| folded.get(&k.to_lowercase()).is_some_and(|got| *got == v))
        };
        let subset_ok = self.encryption_context_subset.as_ref().is_none_or(contains);
        let equals_ok =
            self.encryption_context_equals.as_ref().is_none_or(|want| want.len() == folded.len() && contains(want));
        subset_ok && equals_ok
    }

    pub fn is_empty(&self) -> bool {
        self.encryption_context_subset.is_none() && self.encryption_context_equals.is_none()
    }

    /// At least as strict as `other`: every context `self` admits, `other` admits too.
    pub fn at_least_as_strict_as(&self, other: &GrantConstraints) -> bool {
        let implies = |have: &Option<BTreeMap<String, String>>, want: &BTreeMap<String, String>| {
            have.as_ref().is_some_and(|h| {
                want.iter().all(|(k, v)| h.iter().any(|(hk, hv)| hk.eq_ignore_ascii_case(k) && hv == v))
            })
        };
        let subset_ok = other.encryption_context_subset.as_ref().is_none_or(|want| {
            implies(&self.encryption_context_subset, want) || implies(&self.encryption_context_equals, want)
        });
        let equals_ok = other
            .encryption_context_equals
            .as_ref()
            .is_none_or(|want| self.encryption_context_equals.as_ref() == Some(want));
        subset_ok && equals_ok
    }
}

/// One grant on one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// 64 hex digits.
    pub id: String,
    pub key: KeyId,
    pub name: Option<String>,
    pub grantee: String,
    pub retiring: Option<String>,
    /// The account that created the grant (`arn:aws:iam::<account>:root` on the wire).
    pub issuing_account: AccountId,
    pub operations: BTreeSet<GrantOperation>,
    pub constraints: GrantConstraints,
    pub creation_ms: u64,
}

impl Grant {
    /// Whether this grant's name, principals, operations and constraints equal `other`'s (the
    /// idempotency rule for a named CreateGrant).
    fn same_request(&self, other: &Grant) -> bool {
        self.name == other.name
            && self.grantee == other.grantee
            && self.retiring == other.retiring
            && self.operations == other.operations
            && self.constraints == other.constraints
    }

    /// Whether `principal` may retire the grant: its retiring principal, its grantee when the
    /// grant includes RetireGrant, or the root of the account that issued it.
    pub fn retirable_by(&self, principal: &str) -> bool {
        self.retiring.as_deref() == Some(principal)
            || (self.grantee == principal && self.operations.contains(&GrantOperation::RetireGrant))
            || principal == format!("arn:aws:iam::{}:root", self.issuing_account)
    }
}

/// The operations a grant may name for a key of this spec and usage (AWS: "Grant operations";
/// CreateGrant, RetireGrant and DescribeKey go with every key).
pub fn operations_for(spec: KeySpec, usage: KeyUsage) -> Vec<GrantOperation> {
    use GrantOperation::*;
    let mut ops = vec![CreateGrant, RetireGrant, DescribeKey];
    ops.extend_from_slice(match (usage, spec) {
        (KeyUsage::EncryptDecrypt, KeySpec::SymmetricDefault) => &[
            Decrypt,
            Encrypt,
            GenerateDataKey,
            GenerateDataKeyWithoutPlaintext,
            ReEncryptFrom,
            ReEncryptTo,
            GenerateDataKeyPair,
            GenerateDataKeyPairWithoutPlaintext,
        ][..],
        (KeyUsage::EncryptDecrypt, _) => &[Decrypt, Encrypt, ReEncryptFrom, ReEncryptTo, GetPublicKey][..],
        (KeyUsage::SignVerify, _) => &[Sign, Verify, GetPublicKey][..],
        (KeyUsage::GenerateVerifyMac, _) => &[GenerateMac, VerifyMac][..],
        (KeyUsage::KeyAgreement, _) => &[DeriveSharedSecret, GetPublicKey][..],
        (KeyUsage::EncapsulateDecapsulate, _) => &[Decapsulate, GetPublicKey][..],
    });
    ops
}

/// Checks a grant against its key before it is stored: operations the key supports, and
/// encryption-context constraints only on symmetric encryption keys.
pub fn validate(key: &KeyRecord, grant: &Grant) -> Result<(), CoreError> {
    let allowed = operations_for(key.spec, key.usage);
    if let Some(bad) = grant.operations.iter().find(|o| !allowed.contains(o)) {
        return Err(CoreError::Validation(format!(
            "Grant operation {bad} is not valid for a key with KeySpec {} and KeyUsage {}.",
            key.spec, key.usage
        )));
    }
    if !grant.constraints.is_empty() && key.spec != KeySpec::SymmetricDefault {
        return Err(CoreError::Validation(
            "Encryption context grant constraints are supported only on symmetric encryption KMS keys.".into(),
        ));
    }
    Ok(())
}

/// Key states in which grants can be created (AWS: not on disabled, pending-deletion or
/// unavailable keys).
pub fn check_create(key: &KeyRecord) -> Result<(), CoreError> {
    match key.state {
        KeyState::Enabled | KeyState::PendingImport => Ok(()),
        KeyState::Disabled => Err(CoreError::Disabled(format!("{} is disabled.", key.arn()))),
        state => Err(CoreError::InvalidState { arn: key.arn().to_string(), state }),
    }
}

/// Adds `grant` to a key's grants; answers the id that is in force (an existing grant's for a
/// repeated named request).
pub fn insert(grants: &mut BTreeMap<String, Grant>, grant: Grant) -> Result<String, CoreError> {
    if let Some(existing) = grants.values().find(|g| g.name.is_some() && g.same_request(&grant)) {
        return Ok(existing.id.clone());
    }
    if grants.contains_key(&grant.id) {
        return Err(CoreError::AlreadyExists(format!("Grant {} already exists", grant.id)));
    }
    if grants.len() >= MAX_GRANTS_PER_KEY {
        return Err(CoreError::LimitExceeded(format!(
            "The request was rejected because a quota was exceeded: {MAX_GRANTS_PER_KEY} grants per KMS key."
        )));
    }
    let id = grant.id.clone();
    grants.insert(id.clone(), grant);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn constraints_fold_key_case_but_not_value_case() {
        let c = GrantConstraints { encryption_context_subset: Some(ctx(&[("Dept", "IT")])), ..Default::default() };
        assert!(c.admit(&ctx(&[("dept", "IT"), ("x", "y")])));
        assert!(!c.admit(&ctx(&[("dept", "it")])));
        assert!(!c.admit(&ctx(&[])));
        let e = GrantConstraints { encryption_context_equals: Some(ctx(&[("a", "1")])), ..Default::default() };
        assert!(e.admit(&ctx(&[("A", "1")])));
        assert!(!e.admit(&ctx(&[("a", "1"), ("b", "2")])));
        assert!(GrantConstraints::default().admit(&ctx(&[])));
    }

    #[test]
    fn strictness() {
        let sub = GrantConstraints { encryption_context_subset: Some(ctx(&[("a", "1")])), ..Default::default() };
        let sub2 =
            GrantConstraints { encryption_context_subset: Some(ctx(&[("a", "1"), ("b", "2")])), ..Default::default() };
        let eq = GrantConstraints { encryption_context_equals: Some(ctx(&[("a", "1")])), ..Default::default() };
        assert!(sub2.at_least_as_strict_as(&sub));
        assert!(!sub.at_least_as_strict_as(&sub2));
        assert!(eq.at_least_as_strict_as(&sub));
        assert!(!sub.at_least_as_strict_as(&eq));
        assert!(sub.at_least_as_strict_as(&GrantConstraints::default()));
        assert!(!GrantConstraints::default().at_least_as_strict_as(&sub));
    }
}
