//! RevokeGrant: removes a grant; allowed by the key policy (kms:RevokeGrant).

use keyraft_core::{Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::grants::check_grant_id;
use crate::kms::{no_alias, Caller, Kms};

impl Kms {
    pub async fn revoke_grant(&self, caller: &Caller, key: &KeyRef, grant_id: &str) -> Result<(), KmsError> {
        no_alias(key)?;
        let grant_id = check_grant_id(grant_id)?.to_owned();
        let k = self
            .read(|s| {
                let k = self.resolve_authorized(s, caller, key, &Access::new("kms:RevokeGrant"))?;
                if s.grants.get(&k.id).is_none_or(|g| !g.contains_key(&grant_id)) {
                    return Err(KmsError::NotFound(format!("Grant ID {grant_id} not found")));
                }
                Ok(k)
            })
            .await??;
        self.propose(Command::RevokeGrant { key: k.id, grant_id }).await.map(|_| ())
    }
}
