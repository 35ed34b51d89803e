//! `Principal` / `NotPrincipal` entries, validated at parse time, and how they match a caller.
//!
//! Resource-based policy semantics (IAM User Guide, "AWS JSON policy elements: Principal"):
//! an account principal (`arn:aws:iam::<acct>:root` or `<acct>`) stands for the account, which
//! in an Allow delegates to the account's identity policies and in a Deny covers every principal
//! of the account; a role principal also covers that role's sessions
//! (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`).
//!
//! For `NotPrincipal` ("AWS JSON policy elements: NotPrincipal") a request is checked with
//! every identity it carries — the caller's ARN, for a role session the role, and the account —
//! and the statement applies unless all of them are listed.

use serde_json::Value;

use crate::error::{messages, PolicyError};
use crate::request::Principal;

/// One compiled `Principal` (or `NotPrincipal`) element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `"*"` or `{"AWS": "*"}`.
    Anyone,
    /// `arn:<partition>:iam::<acct>:root` or the bare 12-digit account id.
    Account(String),
    /// An IAM role: matches the role ARN itself and the role's sessions.
    Role { arn: String, account: String, name: String },
    /// Any other IAM/STS principal ARN: matched exactly.
    Arn(String),
    /// A Service, Federated or CanonicalUser principal: never an IAM caller.
    Other,
}

/// How a `Principal` element relates to a caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrincipalMatch {
    /// An entry names the caller itself (or everyone).
    pub direct: bool,
    /// An entry names the caller's account, and the caller is not that account's root.
    pub account: bool,
}

impl Principals {
    /// Compiles the value of a `Principal` / `NotPrincipal` element.
    pub fn parse(value: &Value) -> Result<Principals, PolicyError> {
        let invalid = || PolicyError::malformed(messages::INVALID_PRINCIPALS);
        let mut entries = Vec::new();
        match value {
            Value::String(s) if s == "*" => entries.push(Entry::Anyone),
            Value::Object(map) if !map.is_empty() => {
                for (kind, v) in map {
                    let items = string_list(v).ok_or_else(invalid)?;
                    if items.is_empty() {
                        return Err(invalid());
                    }
                    for item in items {
                        entries.push(match kind.as_str() {
                            "AWS" => parse_aws(item).ok_or_else(invalid)?,
                            "Service" | "Federated" | "CanonicalUser" if !item.is_empty() => Entry::Other,
                            _ => return Err(invalid()),
                        });
                    }
                }
            }
            _ => return Err(invalid()),
        }
        Ok(Principals { entries })
    }

    /// For `Principal`: does an entry name the caller, or only its account?
    pub fn matches(&self, caller: &Principal<'_>) -> PrincipalMatch {
        let id = Caller::new(caller);
        let mut m = PrincipalMatch::default();
        for entry in &self.entries {
            match entry {
                Entry::Anyone => m.direct = true,
                Entry::Account(a) if a == caller.account => {
                    if id.is_root {
                        m.direct = true;
                    } else {
                        m.account = true;
                    }
                }
                Entry::Role { arn, account, name } if arn == caller.arn || id.session_of(account, name) => {
                    m.direct = true;
                }
                Entry::Arn(arn) if arn == caller.arn => m.direct = true,
                _ => {}
            }
        }
        m
    }

    /// For `NotPrincipal`: are all of the caller's identities listed (its ARN, its role if a
    /// session, its account)? The statement applies to the caller only when this is false.
    pub fn lists_every_identity_of(&self, caller: &Principal<'_>) -> bool {
        let id = Caller::new(caller);
        let anyone = self.entries.contains(&Entry::Anyone);
        let account_listed =
            anyone || self.entries.iter().any(|e| matches!(e, Entry::Account(a) if a == caller.account));
        let arn_listed = anyone
            || (id.is_root && account_listed)
            || self.entries.iter().any(|e| match e {
                Entry::Arn(arn) | Entry::Role { arn, .. } => arn == caller.arn,
                _ => false,
            });
        let role_listed = match id.session_role {
            None => true,
            Some(role) => {
                anyone
                    || self.entries.iter().any(|e| {
                        matches!(e, Entry::Role { account, name, .. }
                            if account == caller.account && name == role)
                    })
            }
        };
        account_listed && arn_listed && role_listed
    }
}

/// What the evaluation needs to know about the caller's ARN (borrowed, no allocation).
struct Caller<'a> {
    is_root: bool,
    /// The role name, when the caller is `…:assumed-role/<role>/<session>`.
    session_role: Option<&'a str>,
    account: &'a str,
}

impl<'a> Caller<'a> {
    fn new(p: &Principal<'a>) -> Self {
        let mut parts = p.arn.splitn(6, ':');
        let (_, _, service, _, account, resource) = (
            parts.next(),
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let own = account == p.account;
        let is_root = own && service == "iam" && resource == "root";
        let session_role = if own && service == "sts" {
            resource.strip_prefix("assumed-role/").and_then(|r| r.split('/').next())
        } else {
            None
        };
        Caller { is_root, session_role, account: p.account }
    }

    fn session_of(&self, account: &str, role: &str) -> bool {
        self.account == account && self.session_role == Some(role)
    }
}

fn string_list(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Validates one `AWS` principal: `*`, an account id, or an IAM/STS principal ARN without
/// wildcards (IAM User Guide: wildcards are not allowed in principal ARNs).
fn parse_aws(item: &str) -> Option<Entry> {
    if item == "*" {
        return Some(Entry::Anyone);
    }
    if is_account_id(item) {
        return Some(Entry::Account(item.to_owned()));
    }
    if item.contains(['*', '?']) {
        return None;
    }
    let mut parts = item.splitn(6, ':');
    let (arn, partition, service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let partition_ok = !partition.is_empty() && partition.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    if arn != "arn" || !partition_ok || !region.is_empty() || !is_account_id(account) {
        return None;
    }
    let named = |rest: &str| !rest.is_empty() && rest.split('/').all(|seg| !seg.is_empty());
    match service {
        "iam" if resource == "root" => Some(Entry::Account(account.to_owned())),
        "iam" => {
            if let Some(rest) = resource.strip_prefix("role/") {
                if !named(rest) {
                    return None;
                }
                let name = rest.rsplit('/').next()?.to_owned();
                Some(Entry::Role { arn: item.to_owned(), account: account.to_owned(), name })
            } else if resource
                .strip_prefix("user/")
                .or_else(|| resource.strip_prefix("federated-user/"))
                .is_some_and(named)
            {
                Some(Entry::Arn(item.to_owned()))
            } else {
                None
            }
        }
        "sts" => {
            let rest = resource.strip_prefix("assumed-role/").or_else(|| resource.strip_prefix("federated-user/"))?;
            named(rest).then(|| Entry::Arn(item.to_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCT: &str = "111122223333";

    fn caller(arn: &str) -> Principal<'_> {
        Principal { arn, account: ACCT }
    }

    #[test]
    fn validates_principal_syntax() {
        for ok in [
            json!("*"),
            json!({"AWS": "*"}),
            json!({"AWS": "111122223333"}),
            json!({"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/a/b"]}),
            json!({"AWS": "arn:aws:iam::111122223333:role/path/R"}),
            json!({"AWS": "arn:aws:sts::111122223333:assumed-role/R/s"}),
            json!({"Service": "ec2.amazonaws.com"}),
            json!({"AWS": "arn:aws-cn:iam::111122223333:root"}),
        ] {
            assert!(Principals::parse(&ok).is_ok(), "{ok}");
        }
        for bad in [
            json!("arn:aws:iam::111122223333:root"),
            json!({}),
            json!({"AWS": []}),
            json!({"AWS": "bob"}),
            json!({"AWS": "arn:aws:iam::111122223333:user/*"}),
            json!({"AWS": "arn:aws:iam::11112222333:root"}),
            json!({"AWS": "arn:aws:iam::111122223333:group/admins"}),
            json!({"AWS": "arn:aws:s3:::bucket"}),
            json!({"AWS": "AIDACKCEVSQ6C2EXAMPLE"}),
            json!({"Unknown": "x"}),
            json!({"AWS": 5}),
        ] {
            assert_eq!(
                Principals::parse(&bad),
                Err(PolicyError::Malformed(messages::INVALID_PRINCIPALS.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn account_root_role_and_sessions() {
        let p = Principals::parse(&json!({"AWS": ["arn:aws:iam::111122223333:root"]})).unwrap();
        let m = p.matches(&caller("arn:aws:iam::111122223333:user/alice"));
        assert!(!m.direct && m.account);
        let m = p.matches(&caller("arn:aws:iam::111122223333:root"));
        assert!(m.direct && !m.account);
        let other = Principal { arn: "arn:aws:iam::444455556666:user/x", account: "444455556666" };
        assert_eq!(p.matches(&other), PrincipalMatch::default());

        let r = Principals::parse(&json!({"AWS": "arn:aws:iam::111122223333:role/ops/KeyUser"})).unwrap();
        assert!(r.matches(&caller("arn:aws:sts::111122223333:assumed-role/KeyUser/s1")).direct);
        assert!(r.matches(&caller("arn:aws:iam::111122223333:role/ops/KeyUser")).direct);
        assert!(!r.matches(&caller("arn:aws:sts::111122223333:assumed-role/Other/s1")).direct);
        assert!(!r.matches(&caller("arn:aws:iam::111122223333:user/KeyUser")).direct);
    }
}
