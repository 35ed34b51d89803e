//! Access keys and the callers they authenticate.

use std::collections::HashMap;

use keyraft_core::AccountId;
use std::sync::Arc;

use keyraft_service::authz::IdentityPolicies;
use keyraft_service::Caller;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// One access key pair of a principal, as written in the node config.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: AccountId,
    /// The principal's ARN; defaults to the account root.
    #[serde(default)]
    pub principal: Option<String>,
    /// Identity policy documents (JSON) attached to the principal.
    #[serde(default)]
    pub policies: Vec<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// Access key id → (secret, caller).
#[derive(Default)]
pub struct Identities {
    keys: HashMap<String, (Zeroizing<String>, Caller)>,
}

impl Identities {
    /// Fails on a principal ARN outside the credential's account or a malformed identity
    /// policy, naming the access key.
    pub fn new(creds: &[Credential]) -> Result<Self, String> {
        let keys = creds
            .iter()
            .map(|c| {
                let principal = c.principal.clone().unwrap_or_else(|| format!("arn:aws:iam::{}:root", c.account_id));
                let account_prefix = format!("arn:aws:iam::{}:", c.account_id);
                if !principal.starts_with(&account_prefix) {
                    return Err(format!(
                        "credential {}: principal {principal} is not in account {}",
                        c.access_key_id, c.account_id
                    ));
                }
                let identity = IdentityPolicies::parse(&c.policies)
                    .map_err(|e| format!("credential {}: identity policy: {e}", c.access_key_id))?;
                let caller = Caller {
                    account: c.account_id.clone(),
                    principal,
                    identity: Arc::new(identity),
                    source_ip: None,
                    secure_transport: false,
                };
                Ok((c.access_key_id.clone(), (Zeroizing::new(c.secret_access_key.clone()), caller)))
            })
            .collect::<Result<_, String>>()?;
        Ok(Identities { keys })
    }

    pub fn caller(&self, access_key_id: &str) -> Option<&Caller> {
        self.keys.get(access_key_id).map(|(_, c)| c)
    }
}

impl crate::sigv4::SecretLookup for Identities {
    fn secret(&self, access_key_id: &str) -> Option<&str> {
        self.keys.get(access_key_id).map(|(s, _)| s.as_str())
    }
}
