//! ListKeys: the caller's keys in this region, by key id, paginated.

use keyraft_core::KeyArn;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::{paginate, Page};

impl Kms {
    pub async fn list_keys(
        &self,
        caller: &Caller,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<KeyArn>, KmsError> {
        self.authorize_account(caller, Access::new("kms:ListKeys"))?;
        if let Some(m) = marker {
            keyraft_core::KeyId::parse(m).map_err(|_| KmsError::InvalidMarker("The marker is not valid".into()))?;
        }
        self.read(|s| {
            let mine = s.keys.values().filter(|k| k.account == caller.account).map(|k| k.arn());
            paginate(mine, |a| a.key_id.to_string(), limit, marker)
        })
        .await
    }
}
