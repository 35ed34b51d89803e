//! ListRetirableGrants: the grants of the caller's account whose retiring principal is the
//! given one.

use keyraft_core::grants::Grant;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::{paginate, Page};

impl Kms {
    pub async fn list_retirable_grants(
        &self,
        caller: &Caller,
        retiring: &str,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<Grant>, KmsError> {
        self.authorize_account(caller, Access::new("kms:ListRetirableGrants"))?;
        self.read(|s| {
            let grants = s
                .grants
                .values()
                .flat_map(|g| g.values())
                .filter(|g| g.issuing_account == caller.account && g.retiring.as_deref() == Some(retiring))
                .cloned();
            // Paged by key, then grant id (the order of the scan).
            paginate(grants, |g| format!("{}/{}", g.key, g.id), limit, marker)
        })
        .await
    }
}
