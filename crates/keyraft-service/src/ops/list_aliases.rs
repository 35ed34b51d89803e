//! ListAliases: all of the caller's aliases, or those of one key.

use keyraft_core::{AliasRecord, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{resolve_in, Caller, Kms};
use crate::ops::{paginate, Page};

/// One alias as ListAliases reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasEntry {
    pub alias: AliasRecord,
    pub arn: String,
}

impl Kms {
    pub async fn list_aliases(
        &self,
        caller: &Caller,
        key: Option<&KeyRef>,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<AliasEntry>, KmsError> {
        self.authorize_account(caller, Access::new("kms:ListAliases"))?;
        if key.is_some_and(|k| k.is_alias()) {
            return Err(KmsError::InvalidArn("KeyId must be a key id or key ARN".into()));
        }
        let region = self.region().clone();
        self.read(|s| {
            let only = match key {
                Some(k) => Some(resolve_in(s, &region, caller, k, false)?.id),
                None => None,
            };
            let aliases = s
                .aliases
                .values()
                .filter(|a| only.as_ref().is_none_or(|id| &a.target == id))
                .filter(|a| s.keys.get(&a.target).is_some_and(|k| k.account == caller.account))
                .map(|a| AliasEntry {
                    arn: keyraft_core::ids::alias_arn(&region, &caller.account, &a.name),
                    alias: a.clone(),
                });
            Ok(paginate(aliases, |a| a.alias.name.to_string(), limit, marker))
        })
        .await?
    }
}
