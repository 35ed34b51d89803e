//! ListGrants: one key's grants, paginated by grant id.

use keyraft_core::grants::Grant;
use keyraft_core::KeyRef;

use crate::authz::Access;
use crate::error::KmsError;
use crate::grants::check_grant_id;
use crate::kms::{no_alias, Caller, Kms};
use crate::ops::{paginate, Page};

impl Kms {
    pub async fn list_grants(
        &self,
        caller: &Caller,
        key: &KeyRef,
        grant_id: Option<&str>,
        grantee: Option<&str>,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<Grant>, KmsError> {
        no_alias(key)?;
        if let Some(id) = grant_id {
            check_grant_id(id)?;
        }
        if let Some(m) = marker {
            check_grant_id(m).map_err(|_| KmsError::InvalidMarker("The marker is not valid".into()))?;
        }
        self.read(|s| {
            let k = self.resolve_authorized(s, caller, key, &Access::new("kms:ListGrants"))?;
            keyraft_core::lifecycle::check_read(&k)?;
            let grants = s
                .grants
                .get(&k.id)
                .into_iter()
                .flat_map(|g| g.values())
                .filter(|g| grant_id.is_none_or(|id| g.id == id))
                .filter(|g| grantee.is_none_or(|p| g.grantee == p))
                .cloned();
            Ok(paginate(grants, |g| g.id.clone(), limit, marker))
        })
        .await?
    }
}
