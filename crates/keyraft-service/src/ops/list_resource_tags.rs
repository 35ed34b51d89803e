//! ListResourceTags.

use keyraft_core::KeyRef;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};
use crate::ops::{paginate, Page};

impl Kms {
    pub async fn list_resource_tags(
        &self,
        caller: &Caller,
        key: &KeyRef,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<(String, String)>, KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key, Access::new("kms:ListResourceTags")).await?;
        keyraft_core::lifecycle::check_read(&k)?;
        if marker.is_some_and(|m| !k.tags.contains_key(m)) {
            return Err(KmsError::InvalidMarker("The marker is not valid".into()));
        }
        Ok(paginate(k.tags.into_iter(), |(t, _)| t.clone(), limit, marker))
    }
}
