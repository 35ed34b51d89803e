//! DeleteImportedKeyMaterial (key → PendingImport; its ciphertexts fail until the same material
//! is imported again), and the leader-driven deletion of expired imported material.

use keyraft_core::command::RequestId;
use keyraft_core::{Command, KeyRecord, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{applied_key, no_alias, Caller, Kms};

impl Kms {
    pub async fn delete_imported_key_material(&self, caller: &Caller, key: &KeyRef) -> Result<KeyRecord, KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key, Access::new("kms:DeleteImportedKeyMaterial")).await?;
        keyraft_core::import::check_external(&k)?;
        applied_key(self.propose(Command::DeleteImportedKeyMaterial { key: k.id, expired_ms: None }).await?)
    }
}

/// Housekeeping (leader only): proposes the deletion of every imported material whose ValidTo
/// has passed by the leader's clock. The command names that ValidTo and the apply re-checks it,
/// so each expiry happens once whichever leader proposes it.
pub(crate) async fn expire_due(kms: &Kms) {
    let node = kms.node();
    let due = node.state().read(|s| s.due_for_import_expiry(node.clock().now_ms()));
    for (key, valid_to) in due {
        let id = RequestId(kms.random());
        match node.write(id, Command::DeleteImportedKeyMaterial { key: key.clone(), expired_ms: Some(valid_to) }).await
        {
            Ok(Ok(_)) => tracing::info!(%key, "deleted expired imported key material"),
            Ok(Err(e)) => tracing::debug!(%key, error = %e, "imported key material not deleted"),
            Err(e) => tracing::warn!(%key, error = %e, "could not propose the expiry of imported key material"),
        }
    }
}
