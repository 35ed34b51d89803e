//! RetireGrant: by grant token, or by key ARN and grant id. Who may retire is decided by the
//! grant itself (its retiring principal, its grantee if it includes RetireGrant, the issuing
//! account's root), not by policies.

use keyraft_core::{Command, KeyId, KeyRef};

use crate::error::KmsError;
use crate::grants::{check_grant_id, parse_token};
use crate::kms::{resolve_in, Caller, Kms};

impl Kms {
    pub async fn retire_grant(
        &self,
        caller: &Caller,
        token: Option<&str>,
        key: Option<&KeyRef>,
        grant_id: Option<&str>,
    ) -> Result<(), KmsError> {
        let (key_id, grant_id): (KeyId, String) = match (token, key, grant_id) {
            (_, Some(key), Some(id)) => {
                let id = check_grant_id(id)?.to_owned();
                let region = self.region().clone();
                (self.read(|s| resolve_in(s, &region, caller, key, true)).await??.id, id)
            }
            (Some(t), _, _) => parse_token(t)?,
            _ => {
                return Err(KmsError::Validation(
                    "Either GrantToken, or both KeyId and GrantId, must be specified".into(),
                ))
            }
        };
        let not_found = || KmsError::NotFound(format!("Grant ID {grant_id} not found"));
        self.read(|s| {
            let g = s.grants.get(&key_id).and_then(|g| g.get(&grant_id)).ok_or_else(not_found)?;
            if g.retirable_by(&caller.principal) {
                Ok(())
            } else {
                Err(KmsError::AccessDenied(format!(
                    "User: {} is not authorized to perform: kms:RetireGrant on grant {grant_id}",
                    caller.principal
                )))
            }
        })
        .await??;
        self.propose(Command::RetireGrant { key: key_id, grant_id }).await.map(|_| ())
    }
}
