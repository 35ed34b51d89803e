//! Reading request members with AWS's errors (wrong JSON type → SerializationException, missing
//! or out-of-range → ValidationException) and writing AWS response shapes.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use keyraft_core::multi_region::MrkState;
use keyraft_core::{EncryptionContext, KeyArn, KeyRecord, KeyRef, KeyState};
use serde_json::{json, Map, Value};

use crate::error::AwsError;

/// The JSON body of a request.
pub struct Input(Map<String, Value>);

pub(crate) fn camel(member: &str) -> String {
    let mut c = member.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

pub(crate) fn missing(member: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        camel(member)
    ))
}

fn wrong_type(member: &str, expected: &str) -> AwsError {
    AwsError::serialization(format!("Unexpected value type for member {member}: expected {expected}"))
}

fn length(member: &str, min: usize, max: usize) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length between {min} and {max}",
        camel(member)
    ))
}

impl Input {
    /// The request's members as sent.
    pub fn members(&self) -> &Map<String, Value> {
        &self.0
    }

    /// A nested structure read with the same rules.
    pub fn from_members(members: Map<String, Value>) -> Self {
        Input(members)
    }

    /// Parses a request body: a JSON object (an empty body counts as `{}`).
    pub fn parse(body: &[u8]) -> Result<Self, AwsError> {
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Input(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => Ok(Input(m)),
            Ok(_) => Err(AwsError::serialization("Start of structure or map found where not expected")),
            Err(e) => Err(AwsError::serialization(format!("Malformed JSON request body: {e}"))),
        }
    }

    fn get(&self, member: &str) -> Option<&Value> {
        self.0.get(member).filter(|v| !v.is_null())
    }

    /// `Recipient` (attested Nitro enclave requests) is refused: keyraft has no enclave attestation.
    pub fn refuse_recipient(&self) -> Result<(), AwsError> {
        match self.get("Recipient") {
            Some(_) => {
                Err(AwsError::new("UnsupportedOperationException", 400, "Recipient (Nitro enclaves) is not supported"))
            }
            None => Ok(()),
        }
    }

    pub fn str_opt(&self, member: &str) -> Result<Option<&str>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(member, "string")),
        }
    }

    pub fn str_req(&self, member: &str) -> Result<&str, AwsError> {
        self.str_opt(member)?.ok_or_else(|| missing(member))
    }

    /// A string member with AWS's length bounds (in characters).
    pub fn str_len(&self, member: &str, min: usize, max: usize) -> Result<Option<&str>, AwsError> {
        let s = self.str_opt(member)?;
        if let Some(s) = s {
            let n = s.chars().count();
            if n < min || n > max {
                return Err(length(member, min, max));
            }
        }
        Ok(s)
    }

    pub fn int_opt(&self, member: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let v = n.as_i64().ok_or_else(|| wrong_type(member, "integer"))?;
                if v < min || v > max {
                    return Err(AwsError::validation(format!(
                        "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must have value between {min} and {max}",
                        camel(member)
                    )));
                }
                Ok(Some(v))
            }
            Some(_) => Err(wrong_type(member, "integer")),
        }
    }

    /// A timestamp member: JSON 1.1 sends epoch seconds (a number, possibly fractional).
    pub fn timestamp_ms_opt(&self, member: &str) -> Result<Option<u64>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(s) if (0.0..1e13).contains(&s) => Ok(Some((s * 1000.0).round() as u64)),
                _ => Err(wrong_type(member, "timestamp")),
            },
            Some(_) => Err(wrong_type(member, "timestamp")),
        }
    }

    pub fn bool_opt(&self, member: &str) -> Result<Option<bool>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(member, "boolean")),
        }
    }

    /// A base64 blob with AWS's length bounds (in decoded bytes).
    pub fn blob(&self, member: &str, min: usize, max: usize) -> Result<Option<Vec<u8>>, AwsError> {
        let Some(s) = self.str_opt(member)? else {
            return Ok(None);
        };
        let bytes = B64
            .decode(s)
            .map_err(|_| AwsError::serialization(format!("Value for member {member} is not valid base64")))?;
        if bytes.len() < min || bytes.len() > max {
            return Err(length(member, min, max));
        }
        Ok(Some(bytes))
    }

    pub fn blob_req(&self, member: &str, min: usize, max: usize) -> Result<Vec<u8>, AwsError> {
        self.blob(member, min, max)?.ok_or_else(|| missing(member))
    }

    /// A `KeyId`-shaped member (1–2048 characters) parsed into a key reference.
    pub fn key_ref(&self, member: &str) -> Result<Option<KeyRef>, AwsError> {
        match self.str_len(member, 1, 2048)? {
            None => Ok(None),
            Some(s) => Ok(Some(KeyRef::parse(s).map_err(keyraft_service::KmsError::from)?)),
        }
    }

    pub fn key_ref_req(&self, member: &str) -> Result<KeyRef, AwsError> {
        self.key_ref(member)?.ok_or_else(|| missing(member))
    }

    pub fn string_map(&self, member: &str) -> Result<BTreeMap<String, String>, AwsError> {
        match self.get(member) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(wrong_type(member, "map of strings")),
                })
                .collect(),
            Some(_) => Err(wrong_type(member, "map")),
        }
    }

    pub fn context(&self, member: &str) -> Result<EncryptionContext, AwsError> {
        Ok(EncryptionContext::new(self.string_map(member)?).map_err(keyraft_service::KmsError::from)?)
    }

    pub fn string_list(&self, member: &str) -> Result<Option<Vec<String>>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| wrong_type(member, "list of strings")))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(wrong_type(member, "list")),
        }
    }

    /// `Tags: [{"TagKey": …, "TagValue": …}]`.
    pub fn tags(&self, member: &str) -> Result<Option<Vec<(String, String)>>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|t| {
                    // A tag that is not a structure, or a member that is not a string, is a
                    // SerializationException; an absent member a ValidationException.
                    let Value::Object(t) = t else {
                        return Err(wrong_type(member, "list of Tag structures"));
                    };
                    let field = |name: &str| match t.get(name) {
                        None | Some(Value::Null) => Err(missing(name)),
                        Some(Value::String(s)) => Ok(s.clone()),
                        Some(_) => Err(wrong_type(name, "string")),
                    };
                    Ok((field("TagKey")?, field("TagValue")?))
                })
                .collect::<Result<Vec<_>, AwsError>>()
                .map(Some),
            Some(_) => Err(wrong_type(member, "list")),
        }
    }

    /// An AWS enum member.
    pub fn enum_opt<T>(
        &self,
        member: &str,
        parse: impl Fn(&str) -> Option<T>,
        all: &[&str],
    ) -> Result<Option<T>, AwsError> {
        match self.str_opt(member)? {
            None => Ok(None),
            Some(s) => parse(s).map(Some).ok_or_else(|| {
                AwsError::validation(format!(
                    "1 validation error detected: Value '{s}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    camel(member),
                    all.join(", ")
                ))
            }),
        }
    }
}

pub fn b64(bytes: &[u8]) -> Value {
    Value::String(B64.encode(bytes))
}

/// AWS timestamps in the JSON protocol: seconds since the epoch.
pub fn epoch(ms: u64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// `MultiRegionConfiguration` of a multi-region key as seen from the region of `k`.
pub fn multi_region_configuration(k: &KeyRecord, m: &MrkState) -> Value {
    let arn_in = |r: &keyraft_core::Region| KeyArn { region: r.clone(), ..k.arn() }.to_string();
    let key_type = if m.epoch.primary == k.region { "PRIMARY" } else { "REPLICA" };
    let replicas: Vec<Value> = m.replicas.iter().map(|r| json!({"Arn": arn_in(r), "Region": r.as_str()})).collect();
    json!({
        "MultiRegionKeyType": key_type,
        "PrimaryKey": {"Arn": arn_in(&m.epoch.primary), "Region": m.epoch.primary.as_str()},
        "ReplicaKeys": replicas,
    })
}

/// The `KeyMetadata` structure as AWS returns it (`mrk`: the key's multi-region state).
pub fn key_metadata(k: &KeyRecord, mrk: Option<&MrkState>) -> Value {
    let mut m = json!({
        "AWSAccountId": k.account.as_str(),
        "KeyId": k.id.as_str(),
        "Arn": k.arn().to_string(),
        "CreationDate": epoch(k.creation_ms),
        "Enabled": k.state == KeyState::Enabled,
        "Description": k.description,
        "KeyUsage": k.usage.as_aws(),
        "KeyState": k.state.as_aws(),
        "Origin": k.origin.as_aws(),
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": k.spec.as_aws(),
        "KeySpec": k.spec.as_aws(),
        "MultiRegion": k.multi_region,
    });
    if let Value::Object(o) = &mut m {
        crate::asymmetric::algorithm_lists(k, o);
        crate::import::expiration(k, o);
        if let Some(mrk) = mrk.filter(|_| k.multi_region) {
            o.insert("MultiRegionConfiguration".into(), multi_region_configuration(k, mrk));
        }
    }
    // Scheduled for deletion: the window always, the date once it is known (a multi-region
    // primary in PendingReplicaDeletion has none yet).
    if let (Some(w), Value::Object(o)) = (k.pending_window_days, &mut m) {
        o.insert("PendingDeletionWindowInDays".into(), json!(w));
    }
    if let (Some(d), Value::Object(o)) = (k.deletion_ms, &mut m) {
        o.insert("DeletionDate".into(), epoch(d));
    }
    m
}
