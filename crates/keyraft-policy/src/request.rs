//! What is asked ([`Request`], [`Principal`], [`Context`]) and what one policy answers
//! ([`Evaluation`]).

use std::collections::HashMap;

/// The calling principal: `arn` is `arn:aws:iam::<account>:root`, `…:user/<path/name>`,
/// `…:role/<name>` or `arn:aws:sts::<account>:assumed-role/<role>/<session>`; `account` the 12 digits.
#[derive(Debug, Clone, Copy)]
pub struct Principal<'a> {
    pub arn: &'a str,
    pub account: &'a str,
}

/// One request to authorise.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: Principal<'a>,
    /// e.g. "kms:Encrypt"
    pub action: &'a str,
    /// A key ARN (`arn:aws:kms:us-east-1:111122223333:key/<id>`) or "*" for operations without a key.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// Condition keys of one request. Keys are case-insensitive (stored lowercased); a key may have
/// several values (multivalued keys such as kms:EncryptionContextKeys, aws:TagKeys).
#[derive(Debug, Clone, Default)]
pub struct Context {
    keys: HashMap<String, Vec<String>>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value for `key` (call again to add more values to a multivalued key).
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.keys.entry(key.to_lowercase()).or_default().push(value.into());
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        if has_upper(key) {
            self.get_lowercase(&key.to_lowercase())
        } else {
            self.get_lowercase(key)
        }
    }

    /// `key` must already be lowercase (compiled policies store their keys so).
    pub(crate) fn get_lowercase(&self, key: &str) -> Option<&[String]> {
        self.keys.get(key).map(Vec::as_slice)
    }
}

fn has_upper(key: &str) -> bool {
    key.chars().any(char::is_uppercase)
}

/// What one policy says about one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// A matching Deny statement.
    pub explicit_deny: bool,
    /// A matching Allow statement whose Principal names this principal itself (its ARN, "*",
    /// {"AWS":"*"}) — or, for an Identity policy, any matching Allow statement.
    pub allow: bool,
    /// A matching Allow statement whose Principal names only the principal's *account*
    /// (`arn:aws:iam::<acct>:root` or the bare 12-digit id) while the caller is not that root.
    /// In a key policy this delegates the decision to the account's identity policies.
    pub allow_account: bool,
}

#[cfg(test)]
mod tests {
    use super::Context;

    #[test]
    fn keys_are_case_insensitive_and_multivalued() {
        let mut c = Context::new();
        c.insert("kms:EncryptionContextKeys", "AppName");
        c.insert("KMS:encryptioncontextkeys", "FilePath");
        let want = ["AppName".to_owned(), "FilePath".to_owned()];
        assert_eq!(c.get("kms:EncryptionContextKeys"), Some(&want[..]));
        assert_eq!(c.get("kms:encryptioncontextkeys"), Some(&want[..]));
        assert_eq!(c.get("kms:EncryptionContext:AppName"), None);
    }
}
