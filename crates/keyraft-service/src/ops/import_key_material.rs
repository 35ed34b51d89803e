//! ImportKeyMaterial: opens the import token, unwraps the caller's material with the token's
//! private key, wraps it under the root key (format v1, version 1) and proposes it with its
//! commitment; the apply accepts only the material the key had before (if any).

use keyraft_core::model::WrappedMaterial;
use keyraft_core::{Command, KeyRecord, KeyRef};
use keyraft_crypto::{CryptoError, KeyMaterial};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{applied_key, no_alias, Caller, Kms};

/// ValidTo bounds AWS documents: between 15 minutes and 365 days from the request.
const MIN_VALID_MS: u64 = 15 * 60 * 1000;
const MAX_VALID_MS: u64 = 365 * 24 * 60 * 60 * 1000;

impl Kms {
    /// `valid_to_ms`: `None` for KEY_MATERIAL_DOES_NOT_EXPIRE (the edge checks the model).
    pub async fn import_key_material(
        &self,
        caller: &Caller,
        key: &KeyRef,
        import_token: &[u8],
        encrypted_material: &[u8],
        valid_to_ms: Option<u64>,
    ) -> Result<KeyRecord, KmsError> {
        no_alias(key)?;
        let k = self.resolve(caller, key, Access::new("kms:ImportKeyMaterial")).await?;
        keyraft_core::import::check_external(&k)?;
        keyraft_core::lifecycle::check_manage(&k)?;
        let now = self.node().clock().now_ms();
        if let Some(t) = valid_to_ms {
            if t < now + MIN_VALID_MS || t > now + MAX_VALID_MS {
                return Err(KmsError::Validation(
                    "ValidTo must be between 15 minutes and 365 days from the time of the request".into(),
                ));
            }
        }
        let token = keyraft_crypto::import::open_token(self.root(), k.id.as_str(), import_token)
            .map_err(|_| KmsError::InvalidImportToken(format!("The import token is not valid for {}", k.arn())))?;
        if token.expires_ms <= now {
            return Err(KmsError::ExpiredImportToken(
                "The import token has expired; call GetParametersForImport again".into(),
            ));
        }
        let plain = keyraft_crypto::import::unwrap_material(&token, encrypted_material).map_err(|e| match e {
            CryptoError::Decrypt => KmsError::InvalidCiphertext(
                "The encrypted key material does not decrypt with the import token's wrapping key and algorithm".into(),
            ),
            other => KmsError::Internal(format!("cannot open the import token's wrapping key: {other}")),
        })?;
        let material = KeyMaterial::from_slice(&plain).map_err(|_| {
            KmsError::IncorrectKeyMaterial(
                "Key material for a SYMMETRIC_DEFAULT key must be exactly 256 bits (32 bytes)".into(),
            )
        })?;
        let commitment = keyraft_crypto::import::commitment(self.root(), k.id.as_str(), &material);
        if k.import.as_ref().is_some_and(|i| i.commitment != commitment) {
            return Err(KmsError::IncorrectKeyMaterial(format!(
                "The key material is not the key material previously imported into {}",
                k.arn()
            )));
        }
        let wrapped = keyraft_crypto::wrap::wrap(self.root(), k.id.as_str(), 1, &material, &mut self.rng());
        let material = WrappedMaterial { version: 1, created_ms: 0, wrapped, public_key: None };
        applied_key(self.propose(Command::ImportKeyMaterial { key: k.id, material, commitment, valid_to_ms }).await?)
    }
}
