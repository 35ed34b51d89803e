//! RotateKeyOnDemand: a new backing-key version now, generated and wrapped on this node before
//! proposing (like CreateKey). Symmetric AWS_KMS keys only; at most 25 per key. A multi-region
//! key rotates on its primary: the new version is staged in every replica region and becomes
//! current once they all hold it (M2); the call returns then.
//! Unlike AWS the rotation completes before the call returns, so GetKeyRotationStatus never shows
//! an on-demand rotation in progress.

use keyraft_core::model::WrappedMaterial;
use keyraft_core::rotation::{self, RotationType};
use keyraft_core::{Command, KeyArn, KeyRecord, KeyRef};
use keyraft_crypto::KeyMaterial;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{applied_key, no_alias, Caller, Kms};

/// How often a rotation that lost a race with another rotation of the same key is retried.
const ATTEMPTS: usize = 5;

impl Kms {
    pub async fn rotate_key_on_demand(&self, caller: &Caller, key: &KeyRef) -> Result<KeyArn, KmsError> {
        no_alias(key)?;
        for _ in 0..ATTEMPTS {
            let k = self.resolve(caller, key, Access::new("kms:RotateKeyOnDemand")).await?;
            rotation::check_rotate_on_demand(&k)?;
            let command = self.rotation_command(&k, RotationType::OnDemand, None);
            match self.propose(command).await {
                Ok(applied) => {
                    // A multi-region key's new version is staged in every replica region and
                    // then activated (M2); answered once the replicas hold it (M3).
                    self.await_shared_change(&k).await?;
                    return Ok(applied_key(applied)?.arn());
                }
                // Another rotation took this version first: read the key again and retry.
                Err(KmsError::InvalidState(m)) if m.contains("rotated concurrently") => continue,
                Err(e) => return Err(e),
            }
        }
        Err(KmsError::Internal("The key was rotated concurrently too often; retry the request".into()))
    }

    /// A `RotateKey` command for `k` carrying the next version's fresh material, wrapped.
    pub(crate) fn rotation_command(&self, k: &KeyRecord, kind: RotationType, due_ms: Option<u64>) -> Command {
        let version = rotation::next_version(k);
        let material = KeyMaterial::generate(&mut self.rng());
        let wrapped = keyraft_crypto::wrap::wrap(self.root(), k.id.as_str(), version, &material, &mut self.rng());
        drop(material);
        Command::RotateKey {
            key: k.id.clone(),
            kind,
            material: WrappedMaterial { version, created_ms: 0, wrapped, public_key: None },
            due_ms,
        }
    }

    /// Proposes the automatic rotation of `k` due at `due_ms` (leader housekeeping), with a fresh
    /// idempotency id. The apply checks that this due date is still the key's schedule and has
    /// passed at the entry's time, so a second proposal for the same period (a new leader's, or a
    /// retry) changes nothing and answers "not due".
    pub(crate) async fn rotate_automatically(&self, k: &KeyRecord, due_ms: u64) -> Result<KeyRecord, KmsError> {
        applied_key(self.propose(self.rotation_command(k, RotationType::Automatic, Some(due_ms))).await?)
    }
}
