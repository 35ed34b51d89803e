//! `[[grpc_principals]]`: which client-certificate identity calls as which AWS principal.
//!
//! ```toml
//! [[grpc_principals]]
//! identity = "keyraft://operator/admin"      # the certificate's URI SAN
//! account_id = "111122223333"
//! principal = "arn:aws:iam::111122223333:root" # default: the account root
//! policies = []                                # identity policy documents (JSON), optional
//! ```
//!
//! Node certificates (`keyraft://<region>/<node>`) are never callers: a node is trusted to run
//! Raft, not to use keys. With no entry, every call is refused.

use std::collections::HashMap;
use std::sync::Arc;

use keyraft_core::AccountId;
use keyraft_raft::tls::PeerIdentity;
use keyraft_service::authz::IdentityPolicies;
use keyraft_service::Caller;
use serde::{Deserialize, Serialize};

use crate::error::GrpcError;

/// One entry of `[[grpc_principals]]` in the node config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcPrincipal {
    /// The client certificate's identity, `keyraft://operator/<name>`.
    pub identity: String,
    pub account_id: AccountId,
    /// The principal's ARN (`arn:aws:iam::<account>:user/<name>` or `…:root`); default the
    /// account root.
    #[serde(default)]
    pub principal: Option<String>,
    /// Identity policy documents (JSON) attached to the principal, as `[[credentials]]` have.
    #[serde(default)]
    pub policies: Vec<String>,
}

/// Certificate identity → caller.
#[derive(Debug, Default)]
pub struct Principals {
    /// By the identity's canonical text (`PeerIdentity`'s `Display`).
    callers: HashMap<String, Caller>,
}

impl Principals {
    /// Fails on an identity that is not an operator's, one listed twice, a principal outside its
    /// account, or a malformed identity policy.
    pub fn new(entries: &[GrpcPrincipal]) -> Result<Self, GrpcError> {
        let mut callers = HashMap::new();
        for e in entries {
            let bad = |why: String| GrpcError::Config(format!("{}: {why}", e.identity));
            let identity = match PeerIdentity::parse_uri(&e.identity) {
                Some(id @ PeerIdentity::Operator(_)) => id,
                Some(PeerIdentity::Node { .. }) => return Err(bad("node certificates cannot be callers".into())),
                None => return Err(bad("not a keyraft://operator/<name> identity".into())),
            };
            let principal = e.principal.clone().unwrap_or_else(|| format!("arn:aws:iam::{}:root", e.account_id));
            if !principal.starts_with(&format!("arn:aws:iam::{}:", e.account_id)) {
                return Err(bad(format!("principal {principal} is not in account {}", e.account_id)));
            }
            let policies =
                IdentityPolicies::parse(&e.policies).map_err(|err| bad(format!("identity policy: {err}")))?;
            let caller = Caller {
                account: e.account_id.clone(),
                principal,
                identity: Arc::new(policies),
                source_ip: None,
                secure_transport: true,
            };
            if callers.insert(identity.to_string(), caller).is_some() {
                return Err(bad("listed twice".into()));
            }
        }
        Ok(Principals { callers })
    }

    /// The caller a certificate identity maps to.
    pub fn caller(&self, identity: &PeerIdentity) -> Option<&Caller> {
        self.callers.get(&identity.to_string())
    }

    pub fn is_empty(&self) -> bool {
        self.callers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(identity: &str, principal: Option<&str>) -> GrpcPrincipal {
        GrpcPrincipal {
            identity: identity.into(),
            account_id: AccountId::parse("111122223333").unwrap(),
            principal: principal.map(str::to_owned),
            policies: vec![],
        }
    }

    #[test]
    fn operators_map_to_callers_and_nodes_never_do() {
        let p = Principals::new(&[entry("keyraft://operator/admin", None)]).unwrap();
        let c = p.caller(&PeerIdentity::Operator("admin".into())).unwrap();
        assert_eq!(c.principal, "arn:aws:iam::111122223333:root");
        assert!(c.secure_transport);
        assert!(p.caller(&PeerIdentity::Operator("other".into())).is_none());

        for bad in [
            entry("keyraft://us-east-1/1", None),
            entry("https://operator/admin", None),
            entry("keyraft://operator/admin", Some("arn:aws:iam::444455556666:root")),
        ] {
            assert!(Principals::new(std::slice::from_ref(&bad)).is_err(), "{bad:?}");
        }
        let twice = [entry("keyraft://operator/a", None), entry("keyraft://operator/a", None)];
        assert!(Principals::new(&twice).is_err());
    }
}
