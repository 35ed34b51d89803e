//! Access keys and the callers they authenticate.

use std::collections::HashMap;

use keyraft_core::AccountId;
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
    pub fn new(creds: &[Credential]) -> Self {
        let keys = creds
            .iter()
            .map(|c| {
                let principal = c.principal.clone().unwrap_or_else(|| format!("arn:aws:iam::{}:root", c.account_id));
                (
                    c.access_key_id.clone(),
                    (Zeroizing::new(c.secret_access_key.clone()), Caller { account: c.account_id.clone(), principal }),
                )
            })
            .collect();
        Identities { keys }
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
