//! Imported key material (BYOK, Origin EXTERNAL): what a key remembers about its import, the
//! apply of `ImportKeyMaterial` and `DeleteImportedKeyMaterial`, and which keys' material has
//! expired.
//!
//! A key with Origin EXTERNAL is created in `PendingImport` without material. The first import
//! fixes the material for good: the key keeps a commitment to it (an HMAC under the root key,
//! made by keyraft-crypto before proposing), and a later import — also after the material was
//! deleted or expired — must carry the same commitment (`IncorrectKeyMaterial` otherwise), so a
//! key's old ciphertexts stay valid.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::ids::KeyId;
use crate::lifecycle;
use crate::model::{KeyRecord, KeySpec, KeyState, Origin, WrappedMaterial};
use crate::state::RegionState;

/// What a key with Origin EXTERNAL remembers about its imported material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportState {
    /// Commitment to the material (keyraft-crypto `import::commitment`); kept when the material
    /// is deleted, so that only the same material can be imported again.
    pub commitment: Vec<u8>,
    /// When the imported material expires (ms since the epoch); `None`: it does not expire (or
    /// no material is present).
    pub valid_to_ms: Option<u64>,
}

/// AWS `ExpirationModelType` of a key, if it has imported material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpirationModel {
    Expires(u64),
    DoesNotExpire,
}

/// The expiration model DescribeKey shows: only for EXTERNAL keys with material.
pub fn expiration_model(k: &KeyRecord) -> Option<ExpirationModel> {
    if k.origin != Origin::External || k.material.is_empty() {
        return None;
    }
    let imp = k.import.as_ref()?;
    Some(match imp.valid_to_ms {
        Some(t) => ExpirationModel::Expires(t),
        None => ExpirationModel::DoesNotExpire,
    })
}

/// The key specs that take imported material: symmetric, HMAC, and the RSA and NIST/SECG ECC
/// specs (PKCS#8 private keys) — AWS's list without SM2 and ML-DSA.
pub fn importable(spec: KeySpec) -> bool {
    matches!(
        spec,
        KeySpec::SymmetricDefault
            | KeySpec::Hmac224
            | KeySpec::Hmac256
            | KeySpec::Hmac384
            | KeySpec::Hmac512
            | KeySpec::Rsa2048
            | KeySpec::Rsa3072
            | KeySpec::Rsa4096
            | KeySpec::EccNistP256
            | KeySpec::EccNistP384
            | KeySpec::EccNistP521
            | KeySpec::EccSecgP256k1
    )
}

/// Checks that `k` takes imported material at all (EXTERNAL, an [`importable`] spec).
pub fn check_external(k: &KeyRecord) -> Result<(), CoreError> {
    if k.origin != Origin::External {
        return Err(CoreError::Unsupported(format!(
            "{} does not have an EXTERNAL origin; its key material cannot be imported or deleted.",
            k.arn()
        )));
    }
    if !importable(k.spec) {
        return Err(CoreError::Unsupported(format!(
            "Import of key material for {} keys is not supported by this keyraft version",
            k.spec
        )));
    }
    Ok(())
}

/// Apply of `Command::ImportKeyMaterial`.
pub(crate) fn apply_import(
    k: &mut KeyRecord,
    material: &WrappedMaterial,
    commitment: &[u8],
    valid_to_ms: Option<u64>,
    now: u64,
) -> Result<(), CoreError> {
    check_external(k)?;
    lifecycle::check_manage(k)?;
    if let Some(prev) = &k.import {
        if prev.commitment != commitment {
            return Err(CoreError::IncorrectKeyMaterial(format!(
                "The key material is not the key material previously imported into {}",
                k.arn()
            )));
        }
    }
    if valid_to_ms.is_some_and(|t| t <= now) {
        return Err(CoreError::Validation("ValidTo must be in the future".into()));
    }
    // An asymmetric key's material is its private key with the public key beside it; it does not
    // expire (AWS: KEY_MATERIAL_DOES_NOT_EXPIRE only).
    let asymmetric = crate::algorithms::is_asymmetric(k.spec);
    if asymmetric && valid_to_ms.is_some() {
        return Err(CoreError::Validation(
            "Imported key material of an asymmetric KMS key cannot expire: use KEY_MATERIAL_DOES_NOT_EXPIRE".into(),
        ));
    }
    if asymmetric != material.public_key.is_some() {
        return Err(CoreError::Validation(format!("The imported key material does not fit a {} key", k.spec)));
    }
    let mut m = material.clone();
    m.version = 1;
    m.created_ms = now;
    k.material = vec![m];
    k.current_version = 1;
    k.import = Some(ImportState { commitment: commitment.to_vec(), valid_to_ms });
    if k.state == KeyState::PendingImport {
        k.state = KeyState::Enabled;
    }
    Ok(())
}

/// Apply of `Command::DeleteImportedKeyMaterial`. `expired_ms`: the time-driven expiry names the
/// `ValidTo` it acts on; it applies only while that is still the key's and has passed.
pub(crate) fn apply_delete(k: &mut KeyRecord, expired_ms: Option<u64>, now: u64) -> Result<(), CoreError> {
    check_external(k)?;
    match expired_ms {
        Some(t) => {
            let due = !k.material.is_empty() && k.import.as_ref().and_then(|i| i.valid_to_ms) == Some(t) && t <= now;
            if !due {
                return Err(CoreError::InvalidStateMessage(format!(
                    "The imported key material of {} is not due to expire",
                    k.arn()
                )));
            }
        }
        None => lifecycle::check_manage(k)?,
    }
    k.material.clear();
    if let Some(i) = &mut k.import {
        i.valid_to_ms = None;
    }
    if matches!(k.state, KeyState::Enabled | KeyState::Disabled) {
        k.state = KeyState::PendingImport;
    }
    Ok(())
}

impl RegionState {
    /// Keys whose imported material has expired at `now_ms`, with the `ValidTo` passed: the
    /// leader proposes `DeleteImportedKeyMaterial` for each.
    pub fn due_for_import_expiry(&self, now_ms: u64) -> Vec<(KeyId, u64)> {
        self.keys
            .values()
            .filter(|k| !k.material.is_empty() && k.origin == Origin::External)
            .filter_map(|k| {
                let t = k.import.as_ref()?.valid_to_ms?;
                (t <= now_ms).then(|| (k.id.clone(), t))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, Region};

    fn external() -> KeyRecord {
        KeyRecord {
            state: KeyState::PendingImport,
            origin: Origin::External,
            ..KeyRecord::new(
                KeyId::from_uuid_bytes([9; 16]),
                AccountId::parse("111122223333").unwrap(),
                Region::parse("us-east-1").unwrap(),
            )
        }
    }

    fn wm() -> WrappedMaterial {
        WrappedMaterial { version: 1, created_ms: 0, wrapped: vec![1; 65], public_key: None }
    }

    #[test]
    fn import_delete_reimport_and_expiry() {
        let mut k = external();
        assert_eq!(expiration_model(&k), None);
        apply_import(&mut k, &wm(), b"c1", Some(100), 10).unwrap();
        assert_eq!(k.state, KeyState::Enabled);
        assert_eq!(expiration_model(&k), Some(ExpirationModel::Expires(100)));
        // Other material is refused, also after deletion.
        assert!(matches!(apply_import(&mut k, &wm(), b"c2", None, 20), Err(CoreError::IncorrectKeyMaterial(_))));
        // Not yet due; a stale ValidTo never applies.
        assert!(apply_delete(&mut k, Some(100), 50).is_err());
        assert!(apply_delete(&mut k, Some(99), 150).is_err());
        apply_delete(&mut k, Some(100), 150).unwrap();
        assert_eq!(k.state, KeyState::PendingImport);
        assert!(k.material.is_empty());
        assert!(apply_delete(&mut k, Some(100), 160).is_err(), "expiry applies once");
        assert!(matches!(apply_import(&mut k, &wm(), b"c2", None, 170), Err(CoreError::IncorrectKeyMaterial(_))));
        assert!(matches!(apply_import(&mut k, &wm(), b"c1", Some(170), 170), Err(CoreError::Validation(_))));
        apply_import(&mut k, &wm(), b"c1", None, 170).unwrap();
        assert_eq!(expiration_model(&k), Some(ExpirationModel::DoesNotExpire));
        apply_delete(&mut k, None, 180).unwrap();
        assert_eq!(k.state, KeyState::PendingImport);
        let mut aws = external();
        aws.origin = Origin::AwsKms;
        assert!(matches!(apply_import(&mut aws, &wm(), b"c1", None, 1), Err(CoreError::Unsupported(_))));
    }

    #[test]
    fn asymmetric_import_keeps_the_public_key_and_does_not_expire() {
        let mut k = KeyRecord { spec: KeySpec::EccNistP256, ..external() };
        let pair = WrappedMaterial { public_key: Some(vec![7; 91]), ..wm() };
        assert!(matches!(apply_import(&mut k, &pair, b"c1", Some(100), 10), Err(CoreError::Validation(_))));
        assert!(matches!(apply_import(&mut k, &wm(), b"c1", None, 10), Err(CoreError::Validation(_))));
        apply_import(&mut k, &pair, b"c1", None, 10).unwrap();
        assert_eq!(k.material[0].public_key.as_deref(), Some(&[7u8; 91][..]));
        assert_eq!(expiration_model(&k), Some(ExpirationModel::DoesNotExpire));
        let mut hmac = KeyRecord { spec: KeySpec::Hmac256, ..external() };
        assert!(matches!(apply_import(&mut hmac, &pair, b"c1", None, 10), Err(CoreError::Validation(_))));
        apply_import(&mut hmac, &wm(), b"c1", Some(100), 10).unwrap();
        let mut ed = KeyRecord { spec: KeySpec::EccNistEdwards25519, ..external() };
        assert!(matches!(apply_import(&mut ed, &pair, b"c1", None, 10), Err(CoreError::Unsupported(_))));
    }
}
