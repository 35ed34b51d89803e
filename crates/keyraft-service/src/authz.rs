//! Authorization: every request is decided the way AWS KMS documents it.
//!
//! - An explicit `Deny` in the key policy or in one of the caller's identity policies wins.
//! - Otherwise the key policy must allow the request: by naming the caller (or `*`) directly,
//!   or by naming the caller's account, which delegates to that account's identity policies
//!   (the account root needs none: it holds every permission of its account).
//! - A key of another account needs both: its key policy must name the caller or the caller's
//!   account, and the caller's own identity policies must allow the action.
//! - A grant on the key for this principal and operation allows it on its own.
//! - Operations without a key (CreateKey, ListKeys, GenerateRandom …) are decided by identity
//!   policies alone.
//!
//! Key policies are compiled once per distinct policy text and cached; the hot path builds a
//! small condition context and walks the compiled statements.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use keyraft_core::grants::{GrantConstraints, GrantOperation};
use keyraft_core::{EncryptionContext, KeyRecord, RegionState};
use keyraft_policy::{Context, Evaluation, Policy, PolicyKind, Principal, Request};

use crate::error::KmsError;
use crate::kms::Caller;

/// Operations AWS lets a principal of another account perform, given the key ARN.
const CROSS_ACCOUNT: &[&str] = &[
    "kms:CreateGrant",
    "kms:Decapsulate",
    "kms:Decrypt",
    "kms:DeriveSharedSecret",
    "kms:DescribeKey",
    "kms:Encapsulate",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateMac",
    "kms:GetKeyRotationStatus",
    "kms:GetPublicKey",
    "kms:ListGrants",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:Sign",
    "kms:Verify",
    "kms:VerifyMac",
];

/// One request's action and its operation-specific condition keys.
pub(crate) struct Access {
    pub action: &'static str,
    pub context: Context,
    /// The request's encryption context, for grant constraints (operations that take one).
    pub encryption_context: Option<BTreeMap<String, String>>,
    /// CreateGrant: the grant asked for. A grant allows CreateGrant only for a grant with a
    /// subset of its operations and constraints at least as strict as its own.
    pub new_grant: Option<(BTreeSet<GrantOperation>, GrantConstraints)>,
}

impl Access {
    pub fn new(action: &'static str) -> Self {
        Access { action, context: Context::new(), encryption_context: None, new_grant: None }
    }

    /// Adds one condition key value.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.context.insert(key, value);
        self
    }

    /// `kms:EncryptionContext:<key>` and `kms:EncryptionContextKeys`.
    /// (The condition keys are added only if a policy reads conditions; see `base_context`.)
    pub fn encryption_context(mut self, context: &EncryptionContext) -> Self {
        self.encryption_context = Some(context.as_map().clone());
        self
    }

    /// An operation that encrypts or decrypts with an encryption context and an algorithm.
    pub fn crypt(action: &'static str, context: &EncryptionContext, algorithm: &str) -> Self {
        Access::new(action).encryption_context(context).with("kms:EncryptionAlgorithm", algorithm)
    }

    /// Whether a principal of another account may do this, given the key ARN.
    pub fn cross_account(&self) -> bool {
        CROSS_ACCOUNT.contains(&self.action)
    }
}

/// The identity policies attached to a principal (from the node config).
#[derive(Debug, Default)]
pub struct IdentityPolicies(pub Vec<Policy>);

impl IdentityPolicies {
    fn has_conditions(&self) -> bool {
        self.0.iter().any(Policy::has_conditions)
    }

    /// Parses identity policy documents (MalformedPolicyDocument on a bad one).
    pub fn parse(documents: &[String]) -> Result<Self, KmsError> {
        documents
            .iter()
            .map(|d| Policy::parse(d, PolicyKind::Identity).map_err(|e| KmsError::MalformedPolicy(e.to_string())))
            .collect::<Result<Vec<_>, _>>()
            .map(IdentityPolicies)
    }

    fn evaluate(&self, request: &Request<'_>) -> Evaluation {
        self.0.iter().map(|p| p.evaluate(request)).fold(Evaluation::default(), merge)
    }
}

fn merge(a: Evaluation, b: Evaluation) -> Evaluation {
    Evaluation {
        explicit_deny: a.explicit_deny || b.explicit_deny,
        allow: a.allow || b.allow,
        allow_account: a.allow_account || b.allow_account,
    }
}

/// A compiled key policy.
pub(crate) struct Compiled {
    policy: Policy,
    /// Whether any statement has a condition (else the condition context is never read).
    has_conditions: bool,
    /// Whether the policy names `kms:ResourceAliases` (listing a key's aliases scans the alias
    /// table, so only such policies pay for it).
    wants_aliases: bool,
}

/// Compiled key policies by policy text: keys with the same policy (most keys of an account
/// keep the default one) share one compiled form. Bounded: past [`PolicyCache::MAX`] distinct
/// texts it starts over.
#[derive(Default)]
pub(crate) struct PolicyCache(RwLock<HashMap<String, Arc<Compiled>>>);

impl PolicyCache {
    const MAX: usize = 10_000;

    /// The compiled form of `key`'s policy.
    fn get(&self, key: &KeyRecord) -> Result<Arc<Compiled>, KmsError> {
        let text = key.policies.get("default").map(String::as_str).unwrap_or("");
        if let Some(hit) = self.0.read().ok().and_then(|c| c.get(text).cloned()) {
            return Ok(hit);
        }
        let policy = Policy::parse(text, PolicyKind::Key)
            .map_err(|e| KmsError::Internal(format!("stored key policy does not parse: {e}")))?;
        let compiled = Arc::new(Compiled {
            has_conditions: policy.has_conditions(),
            policy,
            wants_aliases: text.to_ascii_lowercase().contains("kms:resourcealiases"),
        });
        if let Ok(mut c) = self.0.write() {
            if c.len() >= Self::MAX {
                c.clear();
            }
            c.insert(text.to_owned(), compiled.clone());
        }
        Ok(compiled)
    }
}

/// How a request was refused.
enum Refusal {
    ExplicitDeny(&'static str),
    NotAllowed(&'static str),
}

fn denied(caller: &Caller, action: &str, resource: &str, why: Refusal) -> KmsError {
    let because = match why {
        Refusal::ExplicitDeny(kind) => format!("with an explicit deny in {kind} policy"),
        Refusal::NotAllowed(kind) => format!("because no {kind} policy allows the {action} action"),
    };
    KmsError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} {because}",
        caller.principal
    ))
}

/// The condition keys every request carries. `now_ms`: the node's clock.
fn base_context(caller: &Caller, access: &Access, region: &str, alias: Option<&str>, now_ms: u64) -> Context {
    let mut c = access.context.clone();
    c.insert("aws:EpochTime", (now_ms / 1000).to_string());
    c.insert("aws:CurrentTime", keyraft_core::clock::iso8601_utc(now_ms));
    c.insert("aws:SecureTransport", if caller.secure_transport { "true" } else { "false" });
    if let Some(ip) = caller.source_ip {
        c.insert("aws:SourceIp", ip.to_string());
    }
    for (k, v) in access.encryption_context.iter().flatten() {
        c.insert(&format!("kms:EncryptionContext:{k}"), v.as_str());
        c.insert("kms:EncryptionContextKeys", k.as_str());
    }
    c.insert("aws:PrincipalArn", caller.principal.as_str());
    c.insert("aws:PrincipalAccount", caller.account.as_str());
    c.insert("kms:CallerAccount", caller.account.as_str());
    c.insert("aws:RequestedRegion", region);
    let kind = if caller.is_root() {
        "Account"
    } else if caller.principal.contains(":assumed-role/") {
        "AssumedRole"
    } else {
        "User"
    };
    c.insert("aws:PrincipalType", kind);
    if let Some(name) = caller.principal.rsplit_once(":user/").map(|(_, p)| p.rsplit('/').next().unwrap_or(p)) {
        c.insert("aws:username", name);
    }
    if let Some(alias) = alias {
        c.insert("kms:RequestAlias", alias);
    }
    c
}

/// The condition keys that describe the key itself.
fn key_context(c: &mut Context, s: &RegionState, key: &KeyRecord, wants_aliases: bool) {
    c.insert("kms:KeySpec", key.spec.as_aws());
    c.insert("kms:KeyUsage", key.usage.as_aws());
    c.insert("kms:KeyOrigin", key.origin.as_aws());
    c.insert("kms:MultiRegion", if key.multi_region { "true" } else { "false" });
    if key.multi_region {
        let primary = s.multi_region.get(&key.id).is_none_or(|m| m.epoch.primary == key.region);
        c.insert("kms:MultiRegionKeyType", if primary { "PRIMARY" } else { "REPLICA" });
    }
    for (k, v) in &key.tags {
        c.insert(&format!("aws:ResourceTag/{k}"), v.as_str());
    }
    if wants_aliases {
        for a in s.aliases.values().filter(|a| a.target == key.id) {
            c.insert("kms:ResourceAliases", a.name.to_string());
        }
    }
}

impl Caller {
    /// The account root (`arn:aws:iam::<account>:root`) holds every permission of its account.
    pub fn is_root(&self) -> bool {
        self.principal.strip_prefix("arn:aws:iam::").and_then(|r| r.strip_suffix(":root"))
            == Some(self.account.as_str())
    }
}

/// A request on a key as the decision needs it.
pub(crate) struct Asked<'a> {
    pub access: &'a Access,
    /// The alias the request named the key by (`kms:RequestAlias`).
    pub alias: Option<&'a str>,
    /// The node's clock (`aws:CurrentTime`).
    pub now_ms: u64,
}

/// Decides a request on a key. `grant_allows` is whether one of the key's grants gives this
/// principal the operation.
pub(crate) fn authorize_key(
    cache: &PolicyCache,
    s: &RegionState,
    caller: &Caller,
    key: &KeyRecord,
    asked: &Asked<'_>,
    grant_allows: bool,
) -> Result<(), KmsError> {
    let Asked { access, alias, now_ms } = *asked;
    let policy = cache.get(key)?;
    // Most keys keep a policy without conditions (the default one) and most callers have none
    // in their identity policies: then no statement reads the context and it is not built.
    let context = if policy.has_conditions || caller.identity.has_conditions() {
        let mut c = base_context(caller, access, key.region.as_str(), alias, now_ms);
        key_context(&mut c, s, key, policy.wants_aliases);
        c
    } else {
        Context::new()
    };
    let resource = key.arn().to_string();
    let request = Request {
        principal: Principal { arn: &caller.principal, account: caller.account.as_str() },
        action: access.action,
        resource: &resource,
        context: &context,
    };
    decide(&policy.policy, caller, key.account.as_str(), &request, grant_allows)
        .map_err(|why| denied(caller, access.action, &resource, why))
}

/// The key-policy decision proper, shared with the lockout check.
fn decide(
    key_policy: &Policy,
    caller: &Caller,
    key_account: &str,
    request: &Request<'_>,
    grant_allows: bool,
) -> Result<(), Refusal> {
    let kp = key_policy.evaluate(request);
    let ip = caller.identity.evaluate(request);
    if kp.explicit_deny {
        return Err(Refusal::ExplicitDeny("a resource-based"));
    }
    if ip.explicit_deny {
        return Err(Refusal::ExplicitDeny("an identity-based"));
    }
    let iam_allows = caller.is_root() || ip.allow;
    let key_allows = if caller.account.as_str() == key_account {
        kp.allow || (kp.allow_account && iam_allows)
    } else {
        (kp.allow || kp.allow_account) && iam_allows
    };
    if key_allows || grant_allows {
        Ok(())
    } else if kp.allow || kp.allow_account {
        Err(Refusal::NotAllowed("identity-based"))
    } else {
        Err(Refusal::NotAllowed("resource-based"))
    }
}

/// Decides a request that names no key (CreateKey, ListKeys, GenerateRandom …): identity
/// policies alone.
pub(crate) fn authorize_account(caller: &Caller, access: &Access, region: &str, now_ms: u64) -> Result<(), KmsError> {
    let context = base_context(caller, access, region, None, now_ms);
    let request = Request {
        principal: Principal { arn: &caller.principal, account: caller.account.as_str() },
        action: access.action,
        resource: "*",
        context: &context,
    };
    let ip = caller.identity.evaluate(&request);
    let why = if ip.explicit_deny {
        Refusal::ExplicitDeny("an identity-based")
    } else if caller.is_root() || ip.allow {
        return Ok(());
    } else {
        Refusal::NotAllowed("identity-based")
    };
    Err(denied(caller, access.action, "*", why))
}

/// Parses a key policy for storing it (MalformedPolicyDocumentException on a bad one) and,
/// unless bypassed, runs AWS's lockout safety check: the caller must still be allowed
/// `kms:PutKeyPolicy` under the new policy.
pub(crate) fn check_new_policy(
    caller: &Caller,
    region: &str,
    key_arn: &str,
    key_account: &str,
    document: &str,
    bypass_lockout_check: bool,
    now_ms: u64,
) -> Result<(), KmsError> {
    let policy = Policy::parse(document, PolicyKind::Key).map_err(|e| KmsError::MalformedPolicy(e.to_string()))?;
    if bypass_lockout_check {
        return Ok(());
    }
    let access = Access::new("kms:PutKeyPolicy");
    let context = base_context(caller, &access, region, None, now_ms);
    let request = Request {
        principal: Principal { arn: &caller.principal, account: caller.account.as_str() },
        action: access.action,
        resource: key_arn,
        context: &context,
    };
    decide(&policy, caller, key_account, &request, false).map_err(|_| {
        KmsError::MalformedPolicy(
            "The new key policy will not allow you to update the key policy in the future.".into(),
        )
    })
}
