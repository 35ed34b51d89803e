//! Backup and restore of a region (`keyraft backup`, `keyraft restore`; admin API
//! `GET /v1/backup`, `POST /v1/restore`).
//!
//! A backup is the region state after the read barrier (every write acknowledged before it
//! started is in it), without its remembered request ids, in the snapshot encoding
//! (`keyraft_store::encode_state`), sealed under a key derived from the region root key
//! (`keyraft_crypto::backup`, format 1). The state holds backing keys only wrapped under that
//! same root key; nothing is unwrapped to take or restore a backup.
//!
//! A restore opens the file under this node's root key (another root key or a changed byte:
//! refused, nothing proposed), checks that it is a backup of this region and that its contents
//! hang together, and proposes [`Command::Restore`], which applies only while the region holds
//! no key, alias or grant. The cluster id may differ: a region is rebuilt after a disaster with
//! whatever deployment it gets; what must match is the region (ARNs name it) and the root key.

use keyraft_core::restore::RegionContents;
use keyraft_core::Command;
use keyraft_crypto::backup::{self, BackupHeader};
use keyraft_crypto::CryptoError;
use serde::{Deserialize, Serialize};

use crate::error::KmsError;
use crate::kms::Kms;

/// Backups larger than this are refused by restore: the restore command travels through the
/// Raft log and its RPCs (64 MiB per message, commands as JSON), so it must stay well below.
pub const MAX_RESTORE_BYTES: usize = 16 * 1024 * 1024;

/// What a backup or restore did, as the admin API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    pub cluster_id: String,
    pub region: String,
    /// The Raft log index the backed-up state had applied.
    pub applied_index: u64,
    pub created_ms: u64,
    pub keys: u64,
    pub aliases: u64,
    pub grants: u64,
    /// The size of the backup file.
    pub bytes: u64,
}

impl BackupSummary {
    fn of(header: &BackupHeader, contents: &RegionContents, bytes: usize) -> Self {
        Self::counted(header, counts(contents), bytes)
    }

    fn counted(header: &BackupHeader, (aliases, grants): (u64, u64), bytes: usize) -> Self {
        BackupSummary {
            cluster_id: header.cluster_id.clone(),
            region: header.region.clone(),
            applied_index: header.applied_index,
            created_ms: header.created_ms,
            keys: header.keys,
            aliases,
            grants,
            bytes: bytes as u64,
        }
    }
}

/// Aliases and grants in `contents`.
fn counts(contents: &RegionContents) -> (u64, u64) {
    (contents.aliases.len() as u64, contents.grants.values().map(|g| g.len() as u64).sum())
}

impl Kms {
    /// Takes a backup of the region: the sealed file and what it holds.
    pub async fn backup(&self) -> Result<(Vec<u8>, BackupSummary), KmsError> {
        self.node().read_barrier().await?;
        let (contents, applied_index) =
            self.node().state().read_applied(|s, applied| (RegionContents::of(s), applied.map_or(0, |l| l.index)));
        let config = self.node().config();
        let header = BackupHeader {
            root_generation: self.root().generation(),
            cluster_id: config.cluster_id.clone(),
            region: config.region.to_string(),
            applied_index,
            created_ms: self.node().clock().now_ms(),
            keys: contents.keys.len() as u64,
        };
        let counted = counts(&contents);
        let payload = keyraft_store::encode_state(&contents.into_state())
            .map_err(|e| KmsError::Internal(format!("cannot encode the region state: {e}")))?;
        let file = backup::seal(self.root(), &header, &payload, &mut self.rng())
            .map_err(|e| KmsError::Internal(format!("cannot seal the backup: {e}")))?;
        let summary = BackupSummary::counted(&header, counted, file.len());
        tracing::info!(
            region = %header.region,
            applied_index,
            keys = header.keys,
            bytes = file.len(),
            "backup taken"
        );
        Ok((file, summary))
    }

    /// Restores a backup file into this region, which must hold no key, alias or grant.
    pub async fn restore(&self, file: &[u8]) -> Result<BackupSummary, KmsError> {
        if file.len() > MAX_RESTORE_BYTES {
            return Err(KmsError::Validation(format!(
                "the backup is {} bytes; restore takes at most {MAX_RESTORE_BYTES}",
                file.len()
            )));
        }
        let (header, payload) = backup::open(self.root(), file).map_err(|e| {
            KmsError::Validation(match e {
                CryptoError::Authentication => "the backup file does not open under this region's root key: it was \
                                                sealed under another root key, or it was altered"
                    .to_owned(),
                CryptoError::Unsupported(m) => format!("not a backup this build can read: {m}"),
                _ => "not a keyraft backup file (format 1), or truncated".to_owned(),
            })
        })?;
        if header.region != self.region().as_str() {
            return Err(KmsError::Validation(format!(
                "the backup is of region {}; this node serves region {}",
                header.region,
                self.region()
            )));
        }
        let state = keyraft_store::decode_state(&payload)
            .map_err(|e| KmsError::Validation(format!("the backup's contents do not decode: {e}")))?;
        drop(payload);
        let contents = RegionContents::from_state(state);
        contents.check(self.region()).map_err(|e| KmsError::Validation(format!("the backup is inconsistent: {e}")))?;
        if contents.keys.len() as u64 != header.keys {
            return Err(KmsError::Validation("the backup's key count does not match its contents".into()));
        }
        let summary = BackupSummary::of(&header, &contents, file.len());
        self.propose(Command::Restore { contents: Box::new(contents) }).await?;
        tracing::warn!(
            region = %header.region,
            from_cluster = %header.cluster_id,
            applied_index = header.applied_index,
            keys = header.keys,
            "region restored from a backup"
        );
        Ok(summary)
    }
}
