//! Identifiers, parsed once at the edge into validated types.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A key id: a UUID (single-region key) or `mrk-` + 32 lowercase hex digits (multi-region key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let ok = if let Some(hex) = s.strip_prefix("mrk-") {
            hex.len() == 32 && is_lower_hex(hex)
        } else {
            let parts: Vec<&str> = s.split('-').collect();
            parts.len() == 5 && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && is_lower_hex(p))
        };
        if ok {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(CoreError::NotFound(format!("Invalid keyId '{s}'")))
        }
    }

    /// Builds a single-region key id from 16 random bytes (a version-4 UUID).
    pub fn from_uuid_bytes(mut b: [u8; 16]) -> Self {
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        KeyId(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
    }

    /// Builds a multi-region key id from 16 random bytes.
    pub fn mrk_from_bytes(b: [u8; 16]) -> Self {
        KeyId(format!("mrk-{}", hex::encode(b)))
    }

    pub fn is_multi_region(&self) -> bool {
        self.0.starts_with("mrk-")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for KeyId {
    type Error = CoreError;
    fn try_from(s: String) -> Result<Self, CoreError> {
        KeyId::parse(&s)
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.0
    }
}

/// A 12-digit AWS account id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s.to_owned()))
        } else {
            Err(CoreError::InvalidId { kind: "account id".into(), what: s.into() })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AccountId {
    type Error = CoreError;
    fn try_from(s: String) -> Result<Self, CoreError> {
        AccountId::parse(&s)
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

/// A region name such as `us-east-1`: lowercase letters, digits and hyphens.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Region(s.to_owned()))
        } else {
            Err(CoreError::InvalidId { kind: "region".into(), what: s.into() })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Region {
    type Error = CoreError;
    fn try_from(s: String) -> Result<Self, CoreError> {
        Region::parse(&s)
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.0
    }
}

/// An alias name: `alias/` followed by 1–250 of `[a-zA-Z0-9/_-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AliasName(String);

impl AliasName {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let rest = s.strip_prefix("alias/").unwrap_or("");
        let ok = !rest.is_empty()
            && s.len() <= 256
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'_' || b == b'-');
        if ok {
            Ok(AliasName(s.to_owned()))
        } else {
            Err(CoreError::Validation(format!(
                "1 validation error detected: Value '{s}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$"
            )))
        }
    }

    /// `alias/aws/…` names belong to AWS managed keys and cannot be created or changed.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with("alias/aws/")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AliasName {
    type Error = CoreError;
    fn try_from(s: String) -> Result<Self, CoreError> {
        AliasName::parse(&s)
    }
}

impl From<AliasName> for String {
    fn from(a: AliasName) -> String {
        a.0
    }
}

/// `arn:aws:kms:<region>:<account>:key/<key-id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyArn {
    pub region: Region,
    pub account: AccountId,
    pub key_id: KeyId,
}

impl fmt::Display for KeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arn:aws:kms:{}:{}:key/{}", self.region, self.account, self.key_id)
    }
}

/// The ARN of an alias: `arn:aws:kms:<region>:<account>:alias/<name>`.
pub fn alias_arn(region: &Region, account: &AccountId, alias: &AliasName) -> String {
    format!("arn:aws:kms:{region}:{account}:{alias}")
}

/// What a caller may put in a `KeyId` request field: a key id, a key ARN, an alias name or an
/// alias ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    Id(KeyId),
    Arn(KeyArn),
    Alias(AliasName),
    AliasArn { region: Region, account: AccountId, alias: AliasName },
}

impl KeyRef {
    /// Parses a `KeyId` field. An unparseable value is a `NotFound`, as AWS answers it.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        if let Some(rest) = s.strip_prefix("arn:aws:kms:") {
            let bad = || CoreError::NotFound(format!("Invalid arn {s}"));
            let mut parts = rest.splitn(3, ':');
            let region = Region::parse(parts.next().ok_or_else(bad)?).map_err(|_| bad())?;
            let account = AccountId::parse(parts.next().ok_or_else(bad)?).map_err(|_| bad())?;
            let resource = parts.next().ok_or_else(bad)?;
            if let Some(id) = resource.strip_prefix("key/") {
                let key_id = KeyId::parse(id).map_err(|_| bad())?;
                Ok(KeyRef::Arn(KeyArn { region, account, key_id }))
            } else if resource.starts_with("alias/") {
                let alias = AliasName::parse(resource).map_err(|_| bad())?;
                Ok(KeyRef::AliasArn { region, account, alias })
            } else {
                Err(bad())
            }
        } else if s.starts_with("alias/") {
            AliasName::parse(s)
                .map(KeyRef::Alias)
                .map_err(|_| CoreError::NotFound(format!("Alias '{s}' is not found.")))
        } else {
            KeyId::parse(s).map(KeyRef::Id)
        }
    }

    pub fn is_alias(&self) -> bool {
        matches!(self, KeyRef::Alias(_) | KeyRef::AliasArn { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids() {
        assert!(KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").is_ok());
        assert!(KeyId::parse("mrk-1234abcd12ab34cd56ef1234567890ab").is_ok());
        assert!(KeyId::parse("1234ABCD-12ab-34cd-56ef-1234567890ab").is_err());
        assert!(KeyId::parse("mrk-1234").is_err());
        assert!(KeyId::parse("").is_err());
        assert!(KeyId::parse("../../etc/passwd").is_err());
        let k = KeyId::from_uuid_bytes([0xab; 16]);
        assert!(KeyId::parse(k.as_str()).is_ok());
        assert!(!k.is_multi_region());
        assert!(KeyId::mrk_from_bytes([1; 16]).is_multi_region());
    }

    #[test]
    fn key_refs() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        match KeyRef::parse(arn).unwrap() {
            KeyRef::Arn(a) => assert_eq!(a.to_string(), arn),
            other => panic!("{other:?}"),
        }
        assert!(matches!(KeyRef::parse("alias/my-key").unwrap(), KeyRef::Alias(_)));
        assert!(matches!(
            KeyRef::parse("arn:aws:kms:us-east-1:111122223333:alias/x").unwrap(),
            KeyRef::AliasArn { .. }
        ));
        for bad in ["arn:aws:kms:us-east-1:1111:key/x", "arn:aws:kms:", "alias/", "alias/a b", "nope"] {
            assert!(matches!(KeyRef::parse(bad), Err(CoreError::NotFound(_))), "{bad}");
        }
    }

    #[test]
    fn aliases() {
        assert!(AliasName::parse("alias/aws/s3").unwrap().is_reserved());
        assert!(AliasName::parse("alias/a").is_ok());
        assert!(AliasName::parse("alias/").is_err());
        assert!(AliasName::parse("alias/é").is_err());
        assert!(AliasName::parse(&format!("alias/{}", "a".repeat(251))).is_err());
    }
}
