//! ImportKeyMaterial: opens the import token, unwraps the caller's material with the token's
//! private key, checks it against the key's spec (symmetric, HMAC, RSA or ECC PKCS#8), wraps it
//! under the root key (version 1) and proposes it with its commitment; the apply accepts only the
//! material the key had before (if any). Asymmetric material does not expire.

use keyraft_core::algorithms::is_asymmetric;
use keyraft_core::model::WrappedMaterial;
use keyraft_core::{Command, KeyRecord, KeyRef, KeySpec};
use keyraft_crypto::mac::HmacKey;
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
        if valid_to_ms.is_some() && is_asymmetric(k.spec) {
            return Err(KmsError::Validation(
                "Imported key material of an asymmetric KMS key cannot expire: use KEY_MATERIAL_DOES_NOT_EXPIRE".into(),
            ));
        }
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
        let (material, commitment) = self.imported_material(&k, &plain)?;
        if k.import.as_ref().is_some_and(|i| i.commitment != commitment) {
            return Err(KmsError::IncorrectKeyMaterial(format!(
                "The key material is not the key material previously imported into {}",
                k.arn()
            )));
        }
        applied_key(self.propose(Command::ImportKeyMaterial { key: k.id, material, commitment, valid_to_ms }).await?)
    }
}

impl Kms {
    /// Checks the unwrapped material against the key's spec and wraps it under the root key
    /// (version 1), with the commitment the key keeps to it. Symmetric: exactly 32 bytes (wrap
    /// format v1). HMAC: raw key bytes of AWS's lengths for the spec (wrap format v2). RSA and
    /// ECC: a DER PKCS#8 private key of exactly the spec, parsed by aws-lc-rs and stored re-encoded
    /// as a generated key is (wrap format v2, public key beside it); the commitment covers the
    /// public key. Material that does not fit: IncorrectKeyMaterialException.
    fn imported_material(&self, k: &KeyRecord, plain: &[u8]) -> Result<(WrappedMaterial, Vec<u8>), KmsError> {
        let id = k.id.as_str();
        let incorrect =
            |what: String| KmsError::IncorrectKeyMaterial(format!("{what}; it cannot be imported into {}", k.arn()));
        if k.spec == KeySpec::SymmetricDefault {
            let material = KeyMaterial::from_slice(plain).map_err(|_| {
                KmsError::IncorrectKeyMaterial(
                    "Key material for a SYMMETRIC_DEFAULT key must be exactly 256 bits (32 bytes)".into(),
                )
            })?;
            let commitment = keyraft_crypto::import::commitment(self.root(), id, &material);
            let wrapped = keyraft_crypto::wrap::wrap(self.root(), id, 1, &material, &mut self.rng());
            return Ok((WrappedMaterial { version: 1, created_ms: 0, wrapped, public_key: None }, commitment));
        }
        if let Some(lens) = keyraft_crypto::mac::import_len(k.spec) {
            if !lens.contains(&plain.len()) {
                return Err(incorrect(format!(
                    "Key material for an {} key must be {} to {} bytes long",
                    k.spec,
                    lens.start(),
                    lens.end()
                )));
            }
            let key = HmacKey::from_bytes(plain);
            let commitment = keyraft_crypto::import::commitment_bytes(self.root(), id, plain);
            let wrapped = keyraft_crypto::mac::wrap_hmac_key(self.root(), id, 1, &key, &mut self.rng());
            return Ok((WrappedMaterial { version: 1, created_ms: 0, wrapped, public_key: None }, commitment));
        }
        if keyraft_crypto::asymmetric::importable(k.spec) {
            let pair = keyraft_crypto::asymmetric::import(k.spec, plain).map_err(|_| {
                incorrect(format!("The key material is not a DER-encoded PKCS #8 private key of KeySpec {}", k.spec))
            })?;
            let commitment = keyraft_crypto::import::commitment_bytes(self.root(), id, &pair.public_key);
            let wrapped =
                keyraft_crypto::asymmetric::wrap_private_key(self.root(), id, 1, &pair.private, &mut self.rng());
            return Ok((
                WrappedMaterial { version: 1, created_ms: 0, wrapped, public_key: Some(pair.public_key) },
                commitment,
            ));
        }
        Err(KmsError::Unsupported(format!("Import of key material for {} keys is not supported", k.spec)))
    }
}
