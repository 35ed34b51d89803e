//! ListKeyRotations: a key's completed rotations, oldest first, paginated by backing-key version.
//! With `include_all` (AWS `IncludeKeyMaterial=ALL_KEY_MATERIAL`) the first key material is listed
//! too.

use keyraft_core::rotation::{self, RotationType};
use keyraft_core::{KeyId, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};
use crate::ops::{paginate, Page};

/// One backing-key version as ListKeyRotations reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationEntry {
    pub key_id: KeyId,
    pub version: u32,
    /// When and how the version was made; `None` for the first key material.
    pub rotation: Option<(u64, RotationType)>,
    /// Whether new ciphertexts are made with this version.
    pub current: bool,
}

/// The marker of a page that ends at `version`: fixed width, so markers sort as versions do.
fn marker_of(version: u32) -> String {
    format!("{version:010}")
}

impl Kms {
    pub async fn list_key_rotations(
        &self,
        caller: &Caller,
        key: &KeyRef,
        include_all: bool,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<RotationEntry>, KmsError> {
        no_alias(key)?;
        if let Some(m) = marker {
            if m.len() != 10 || m.parse::<u32>().is_err() {
                return Err(KmsError::InvalidMarker("The marker is not valid".into()));
            }
        }
        let k = self.resolve(caller, key, Access::new("kms:ListKeyRotations")).await?;
        rotation::check_list_rotations(&k)?;
        let rotated: Vec<RotationEntry> = k
            .rotation
            .history
            .iter()
            .map(|r| RotationEntry {
                key_id: k.id.clone(),
                version: r.version,
                rotation: Some((r.date_ms, r.kind)),
                current: r.version == k.current_version,
            })
            .collect();
        let first = k.material.iter().map(|m| m.version).min().filter(|_| include_all).map(|v| RotationEntry {
            key_id: k.id.clone(),
            version: v,
            rotation: None,
            current: v == k.current_version,
        });
        let all = first.into_iter().chain(rotated);
        Ok(paginate(all, |e| marker_of(e.version), limit, marker))
    }
}
