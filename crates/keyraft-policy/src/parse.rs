//! JSON document → [`Policy`], with the messages AWS gives for malformed documents.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::condition::Condition;
use crate::error::{messages, PolicyError};
use crate::pattern::Pattern;
use crate::policy::{Effect, Matcher, Policy, PolicyKind, Statement, Version, Who};
use crate::principal::Principals;

fn syntax() -> PolicyError {
    PolicyError::malformed(messages::SYNTAX)
}

impl Policy {
    /// Parses and validates `document` as a policy of `kind`, and compiles it.
    pub fn parse(document: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let Ok(Value::Object(top)) = serde_json::from_str::<Value>(document) else {
            return Err(syntax());
        };
        let mut version = Version::V2008_10_17;
        let mut statements = None;
        for (name, value) in &top {
            match name.as_str() {
                "Version" => {
                    version = match value.as_str() {
                        Some("2012-10-17") => Version::V2012_10_17,
                        Some("2008-10-17") => Version::V2008_10_17,
                        _ => return Err(PolicyError::malformed(messages::LEGACY_PARSING)),
                    }
                }
                "Id" if value.is_string() => {}
                "Statement" => statements = Some(value),
                _ => return Err(syntax()),
            }
        }
        let raw: Vec<&Map<String, Value>> = match statements.ok_or_else(syntax)? {
            Value::Object(one) => vec![one],
            Value::Array(many) => many.iter().map(Value::as_object).collect::<Option<_>>().ok_or_else(syntax)?,
            _ => return Err(syntax()),
        };
        // KMS Developer Guide, "Elements in a key policy": a key policy document must have at
        // least one statement.
        if raw.is_empty() {
            return Err(syntax());
        }
        let mut sids = HashSet::new();
        let mut compiled = Vec::with_capacity(raw.len());
        for s in raw {
            if let Some(sid) = s.get("Sid") {
                let sid = sid.as_str().ok_or_else(syntax)?;
                // Key policy Sids may contain spaces (KMS Developer Guide, "Key policy
                // format"); IAM allows only [0-9A-Za-z].
                if kind == PolicyKind::Identity && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(PolicyError::malformed(messages::SID_CHARSET));
                }
                if !sids.insert(sid) {
                    return Err(PolicyError::malformed(messages::DUPLICATE_SID));
                }
            }
            compiled.push(parse_statement(s, kind)?);
        }
        Ok(Policy { kind, version, statements: compiled })
    }
}

fn parse_statement(s: &Map<String, Value>, kind: PolicyKind) -> Result<Statement, PolicyError> {
    const KNOWN: [&str; 9] =
        ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];
    if s.keys().any(|k| !KNOWN.contains(&k.as_str())) {
        return Err(syntax());
    }
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(syntax()),
    };
    let who = match (s.get("Principal"), s.get("NotPrincipal"), kind) {
        (Some(_), Some(_), _) => return Err(syntax()),
        (None, None, PolicyKind::Identity) => Who::Attached,
        (Some(_), None, PolicyKind::Identity) | (None, Some(_), PolicyKind::Identity) => {
            return Err(PolicyError::malformed(messages::PRINCIPAL_NOT_ALLOWED))
        }
        (None, None, PolicyKind::Key) => return Err(PolicyError::malformed(messages::NO_PRINCIPAL)),
        (Some(p), None, PolicyKind::Key) => Who::Principal(Principals::parse(p)?),
        (None, Some(p), PolicyKind::Key) => Who::NotPrincipal(Principals::parse(p)?),
    };
    // KMS API Reference, PutKeyPolicy: "If either of the required Resource or Action elements
    // are missing from a key policy statement, the policy statement has no effect. […] the
    // PutKeyPolicy API request succeeds". IAM refuses such identity policies.
    let actions = match (s.get("Action"), s.get("NotAction")) {
        (Some(_), Some(_)) => return Err(syntax()),
        (None, None) if kind == PolicyKind::Key => Matcher::nothing(),
        (None, None) => return Err(PolicyError::malformed(messages::NO_ACTIONS)),
        (Some(a), None) => action_matcher(a, false)?,
        (None, Some(a)) => action_matcher(a, true)?,
    };
    let resources = match (s.get("Resource"), s.get("NotResource")) {
        (Some(_), Some(_)) => return Err(syntax()),
        (None, None) if kind == PolicyKind::Key => Matcher::nothing(),
        (None, None) => return Err(PolicyError::malformed(messages::NO_RESOURCES)),
        (Some(r), None) => resource_matcher(r, false)?,
        (None, Some(r)) => resource_matcher(r, true)?,
    };
    let condition = s.get("Condition").map(Condition::parse).transpose()?;
    Ok(Statement { effect, who, actions, resources, condition })
}

/// A string or a non-empty array of strings.
fn strings(v: &Value) -> Result<Vec<&str>, PolicyError> {
    let list: Vec<&str> = match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().map(Value::as_str).collect::<Option<_>>().ok_or_else(syntax)?,
        _ => return Err(syntax()),
    };
    if list.is_empty() || list.iter().any(|s| s.is_empty()) {
        return Err(syntax());
    }
    Ok(list)
}

fn action_matcher(v: &Value, negated: bool) -> Result<Matcher, PolicyError> {
    let mut patterns = Vec::new();
    for a in strings(v)? {
        let vendor_ok = a == "*"
            || matches!(a.split_once(':'), Some((vendor, name))
                if !vendor.is_empty() && !name.is_empty() && !name.contains(':'));
        if !vendor_ok {
            return Err(PolicyError::malformed(messages::ACTION_VENDOR));
        }
        patterns.push(Pattern::new(a, true));
    }
    Ok(Matcher { negated, fold_case: true, patterns })
}

fn resource_matcher(v: &Value, negated: bool) -> Result<Matcher, PolicyError> {
    Ok(Matcher {
        negated,
        fold_case: false,
        patterns: strings(v)?.into_iter().map(|r| Pattern::new(r, false)).collect(),
    })
}
