//! Tag validation shared by CreateKey and TagResource (AWS limits).

use crate::error::KmsError;

pub fn validate_tags(tags: &[(String, String)]) -> Result<(), KmsError> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{k}' at 'tags.member.tagKey' failed to satisfy constraint: Member must have length between 1 and 128"
            )));
        }
        if v.chars().count() > 256 {
            return Err(KmsError::Validation(
                "1 validation error detected: Value at 'tags.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256".into(),
            ));
        }
        if k.starts_with("aws:") {
            return Err(KmsError::Tag("Tags beginning with aws: are reserved".into()));
        }
    }
    Ok(())
}
