//! Request members into the service's validated types, with the AWS API's bounds and errors;
//! service results into messages.

use std::collections::HashMap;

use keyraft_core::{EncryptionContext, KeyRecord, KeyRef, KeyState};
use keyraft_service::KmsError;
use tonic::Status;

use crate::error::{invalid, to_status};
use crate::pb;

/// `.or_status()`: a service error as the status it answers.
pub(crate) trait OrStatus<T> {
    fn or_status(self) -> Result<T, Status>;
}

impl<T> OrStatus<T> for Result<T, KmsError> {
    fn or_status(self) -> Result<T, Status> {
        self.map_err(to_status)
    }
}

/// A required key reference (key id, key ARN, alias name or alias ARN; 1–2048 characters).
pub(crate) fn key_ref(member: &str, s: &str) -> Result<KeyRef, Status> {
    key_ref_opt(member, Some(s))?.ok_or_else(|| invalid(format!("{member} is required")))
}

/// An optional key reference; empty counts as absent.
pub(crate) fn key_ref_opt(member: &str, s: Option<&str>) -> Result<Option<KeyRef>, Status> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.len() > 2048 => Err(invalid(format!("{member} is longer than 2048 characters"))),
        Some(s) => KeyRef::parse(s).map(Some).map_err(|e| to_status(KmsError::from(e))),
    }
}

/// A required string of `min..=max` characters.
pub(crate) fn text<'a>(member: &str, s: &'a str, min: usize, max: usize) -> Result<&'a str, Status> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(invalid(format!("{member} must have length between {min} and {max}")));
    }
    Ok(s)
}

/// A required blob of `min..=max` bytes.
pub(crate) fn blob<'a>(member: &str, b: &'a [u8], min: usize, max: usize) -> Result<&'a [u8], Status> {
    if b.len() < min || b.len() > max {
        return Err(invalid(format!("{member} must have length between {min} and {max} bytes")));
    }
    Ok(b)
}

/// An AWS enumeration name, parsed by keyraft-core's parser.
pub(crate) fn name<T>(member: &str, s: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, Status> {
    parse(s).ok_or_else(|| invalid(format!("{member}: '{s}' is not a valid value")))
}

pub(crate) fn name_opt<T>(
    member: &str,
    s: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, Status> {
    s.map(|s| name(member, s, parse)).transpose()
}

pub(crate) fn context(map: HashMap<String, String>) -> Result<EncryptionContext, Status> {
    EncryptionContext::new(map.into_iter().collect()).map_err(|e| to_status(KmsError::from(e)))
}

/// A page size: 1–1000, default 100.
pub(crate) fn limit(l: Option<u32>) -> Result<usize, Status> {
    match l {
        None => Ok(100),
        Some(l @ 1..=1000) => Ok(l as usize),
        Some(_) => Err(invalid("limit must be between 1 and 1000")),
    }
}

pub(crate) fn marker(m: &Option<String>) -> Result<Option<&str>, Status> {
    m.as_deref().map(|m| text("marker", m, 1, 1024)).transpose()
}

pub(crate) fn tags(tags: Vec<pb::Tag>) -> Vec<(String, String)> {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

/// Milliseconds since the epoch as the message's `int64`.
pub(crate) fn ms(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

pub(crate) fn key_metadata(k: &KeyRecord) -> pb::KeyMetadataResponse {
    pb::KeyMetadataResponse {
        key_metadata: Some(pb::KeyMetadata {
            account_id: k.account.as_str().to_owned(),
            key_id: k.id.as_str().to_owned(),
            arn: k.arn().to_string(),
            creation_date_ms: ms(k.creation_ms),
            enabled: k.state == KeyState::Enabled,
            description: k.description.clone(),
            key_usage: k.usage.as_aws().to_owned(),
            key_state: k.state.as_aws().to_owned(),
            origin: k.origin.as_aws().to_owned(),
            key_spec: k.spec.as_aws().to_owned(),
            multi_region: k.multi_region,
            deletion_date_ms: k.deletion_ms.map(ms),
            pending_deletion_window_in_days: k.pending_window_days,
        }),
    }
}

pub(crate) fn names<T: std::fmt::Display>(all: Vec<T>) -> Vec<String> {
    all.iter().map(T::to_string).collect()
}
