//! `Kms`: the per-node service object and the helpers every operation shares.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use keyraft_core::command::RequestId;
use keyraft_core::{AccountId, Applied, Command, KeyId, KeyRecord, KeyRef, Region, RegionState};
use keyraft_crypto::asymmetric::LoadedKey;
use keyraft_crypto::{KeyMaterial, RootKey};
use keyraft_raft::RegionNode;

use crate::authz::{Access, IdentityPolicies, PolicyCache};
use crate::entropy::{Entropy, Rng};
use crate::error::KmsError;

/// Who is calling: the identity established by the edge (SigV4, client certificate).
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: AccountId,
    /// `arn:aws:iam::<account>:user/<name>` or `…:root`.
    pub principal: String,
    /// The identity policies attached to the principal.
    pub identity: Arc<IdentityPolicies>,
    /// Where the request came from (`aws:SourceIp`), when the edge knows it.
    pub source_ip: Option<std::net::IpAddr>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

impl Caller {
    /// A caller with no identity policies (the account root needs none).
    pub fn new(account: AccountId, principal: impl Into<String>) -> Self {
        Caller {
            account,
            principal: principal.into(),
            identity: Arc::default(),
            source_ip: None,
            secure_transport: false,
        }
    }

    /// The account root.
    pub fn root(account: AccountId) -> Self {
        let principal = format!("arn:aws:iam::{account}:root");
        Caller::new(account, principal)
    }
}

/// Unwrapped material by (key, version), with the wrapped bytes it was opened from.
type MaterialCache = HashMap<(KeyId, u32), (Vec<u8>, Arc<KeyMaterial>)>;

/// The KMS service of one node.
pub struct Kms {
    node: Arc<RegionNode>,
    root: RootKey,
    entropy: Arc<dyn Entropy>,
    /// Unwrapped backing keys by (key, version), with the wrapped bytes they came from. A
    /// version is immutable except in one case: a multi-region key that adopts another epoch's
    /// history takes that history's material (`multi_region::apply_incoming`), so a hit counts
    /// only if the stored wrapped bytes are still the same. A deleted key is refused before its
    /// material is looked up.
    cache: RwLock<MaterialCache>,
    /// Parsed asymmetric private keys, likewise (see `ops::asymmetric`).
    pub(crate) private_keys: RwLock<HashMap<(KeyId, u32), Arc<LoadedKey>>>,
    /// Cross-region replication of multi-region keys, once configured (`replication.rs`).
    pub(crate) replication: std::sync::OnceLock<crate::replication::Replication>,
    /// Compiled key policies (see `authz`).
    policies: PolicyCache,
    /// Uses of keys not yet proposed (see `usage`).
    pub(crate) usage: crate::usage::UsageTracker,
}

impl Kms {
    pub fn new(node: Arc<RegionNode>, root: RootKey, entropy: Arc<dyn Entropy>) -> Self {
        Kms {
            node,
            root,
            entropy,
            cache: RwLock::default(),
            private_keys: RwLock::default(),
            replication: std::sync::OnceLock::new(),
            policies: PolicyCache::default(),
            usage: Default::default(),
        }
    }

    pub fn node(&self) -> &Arc<RegionNode> {
        &self.node
    }

    pub fn region(&self) -> &Region {
        &self.node.config().region
    }

    pub(crate) fn rng(&self) -> Rng<'_> {
        Rng(self.entropy.as_ref())
    }

    pub(crate) fn random<const N: usize>(&self) -> [u8; N] {
        let mut b = [0u8; N];
        self.entropy.fill(&mut b);
        b
    }

    pub(crate) fn fill_random(&self, buf: &mut [u8]) {
        self.entropy.fill(buf)
    }

    pub(crate) fn root(&self) -> &RootKey {
        &self.root
    }

    /// Proposes a command (forwarded to the leader by the node) and maps the apply result.
    pub(crate) async fn propose(&self, command: Command) -> Result<Applied, KmsError> {
        // An explicit idempotency key (gRPC edge) derives the id; otherwise it is random.
        let id = RequestId(crate::committed::next_request_id().unwrap_or_else(|| self.random()));
        let (applied, index) = self.node.write_indexed(id, command).await?;
        if let Some(i) = index {
            crate::committed::note(i);
        }
        Ok(applied?)
    }

    /// Reads the region's key state after the linearizable read barrier.
    pub(crate) async fn read<R>(&self, f: impl FnOnce(&RegionState) -> R) -> Result<R, KmsError> {
        self.node.read_barrier().await?;
        Ok(self.node.state().read(f))
    }

    /// Resolves a key reference to the key's record and decides whether the caller may perform
    /// `access` on it (key policy, identity policies, grants; see [`crate::authz`]).
    pub(crate) async fn resolve(&self, caller: &Caller, key: &KeyRef, access: Access) -> Result<KeyRecord, KmsError> {
        self.read(|s| self.resolve_authorized(s, caller, key, &access)).await?
    }

    /// [`Kms::resolve`] inside a state snapshot.
    pub(crate) fn resolve_authorized(
        &self,
        s: &RegionState,
        caller: &Caller,
        key: &KeyRef,
        access: &Access,
    ) -> Result<KeyRecord, KmsError> {
        let k = resolve_in(s, self.region(), caller, key, access.cross_account())?;
        self.authorize(s, caller, &k, key, access)?;
        Ok(k)
    }

    /// Decides `access` on a resolved key; `named` is how the request referred to it.
    pub(crate) fn authorize(
        &self,
        s: &RegionState,
        caller: &Caller,
        k: &KeyRecord,
        named: &KeyRef,
        access: &Access,
    ) -> Result<(), KmsError> {
        let alias = match named {
            KeyRef::Alias(a) | KeyRef::AliasArn { alias: a, .. } => Some(a.to_string()),
            _ => None,
        };
        let grant_allows = crate::grants::allows(s, caller, k, access);
        let asked = crate::authz::Asked { access, alias: alias.as_deref(), now_ms: self.node.clock().now_ms() };
        crate::authz::authorize_key(&self.policies, s, caller, k, &asked, grant_allows)
    }

    /// Decides an operation that names no key (identity policies alone).
    pub(crate) fn authorize_account(&self, caller: &Caller, access: Access) -> Result<(), KmsError> {
        crate::authz::authorize_account(caller, &access, self.region().as_str(), self.node.clock().now_ms())
    }

    /// The unwrapped material of one version of a key.
    pub(crate) fn material(&self, key: &KeyRecord, version: u32) -> Result<Arc<KeyMaterial>, KmsError> {
        let cache_key = (key.id.clone(), version);
        let wrapped = key.material(version).ok_or_else(|| {
            KmsError::InvalidCiphertext("The ciphertext refers to a key version that does not exist".into())
        })?;
        let hit = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.get(&cache_key).filter(|(w, _)| w == &wrapped.wrapped).map(|(_, m)| m.clone()));
        if let Some(m) = hit {
            return Ok(m);
        }
        let m = Arc::new(
            keyraft_crypto::wrap::unwrap(&self.root, key.id.as_str(), version, &wrapped.wrapped)
                .map_err(|e| KmsError::Internal(format!("cannot open key material: {e}")))?,
        );
        if let Ok(mut c) = self.cache.write() {
            c.insert(cache_key, (wrapped.wrapped.clone(), m.clone()));
        }
        Ok(m)
    }
}

/// Resolves a key reference in a state snapshot. Keys of other regions are not visible
/// (NotFound). Keys of other accounts are visible only by ARN and only for operations AWS allows
/// across accounts (`cross_account`); whether the caller may use them is for the key policy to
/// say.
pub(crate) fn resolve_in(
    s: &RegionState,
    region: &Region,
    caller: &Caller,
    key: &KeyRef,
    cross_account: bool,
) -> Result<KeyRecord, KmsError> {
    let not_found = |what: &str| KmsError::NotFound(format!("Key '{what}' does not exist"));
    let (id, account) = match key {
        KeyRef::Id(id) => (id.clone(), &caller.account),
        KeyRef::Arn(arn) => {
            if &arn.region != region || (arn.account != caller.account && !cross_account) {
                return Err(not_found(&arn.to_string()));
            }
            (arn.key_id.clone(), &arn.account)
        }
        KeyRef::Alias(alias) => (
            s.alias_target(alias).cloned().ok_or_else(|| {
                KmsError::NotFound(format!(
                    "Alias {} is not found.",
                    keyraft_core::ids::alias_arn(region, &caller.account, alias)
                ))
            })?,
            &caller.account,
        ),
        KeyRef::AliasArn { region: r, account, alias } => {
            let arn = keyraft_core::ids::alias_arn(r, account, alias);
            if r != region || (account != &caller.account && !cross_account) {
                return Err(KmsError::NotFound(format!("Alias {arn} is not found.")));
            }
            let target = s.alias_target(alias).filter(|id| s.keys.get(*id).is_some_and(|k| &k.account == account));
            (target.cloned().ok_or_else(|| KmsError::NotFound(format!("Alias {arn} is not found.")))?, account)
        }
    };
    match s.keys.get(&id) {
        Some(k) if &k.account == account => Ok(k.clone()),
        _ => Err(not_found(
            &keyraft_core::KeyArn { region: region.clone(), account: account.clone(), key_id: id }.to_string(),
        )),
    }
}

/// Management operations take a key id or key ARN, not an alias.
pub(crate) fn no_alias(key: &KeyRef) -> Result<(), KmsError> {
    if key.is_alias() {
        return Err(KmsError::NotFound(
            "Alias names are not accepted for this operation; use a key id or key ARN".into(),
        ));
    }
    Ok(())
}

/// The key an apply returned.
pub(crate) fn applied_key(a: Applied) -> Result<KeyRecord, KmsError> {
    match a {
        Applied::Key(k) => Ok(*k),
        other => Err(KmsError::Internal(format!("unexpected apply result {other:?}"))),
    }
}
