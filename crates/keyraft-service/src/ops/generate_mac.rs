//! GenerateMac: the HMAC (RFC 2104) of a message (1–4096 bytes) under an HMAC key
//! (HMAC_224/256/384/512, usage GENERATE_VERIFY_MAC), with the one MAC algorithm of its spec.
//! Also what VerifyMac shares: the key and algorithm checks and opening the wrapped HMAC key.

use keyraft_core::algorithms::{is_hmac, mac_algorithms, MacAlgorithm};
use keyraft_core::{KeyArn, KeyId, KeyRecord, KeyRef, KeySpec, KeyUsage, WrappedMaterial};
use keyraft_crypto::mac::HmacKey;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacOutput {
    pub mac: Vec<u8>,
    pub key: KeyArn,
}

/// AWS's message constraint of GenerateMac and VerifyMac: 1–4096 bytes.
pub(crate) fn check_mac_message(message: &[u8]) -> Result<(), KmsError> {
    if message.is_empty() || message.len() > 4096 {
        return Err(KmsError::Validation(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and 4096".into(),
        ));
    }
    Ok(())
}

/// GenerateMac and VerifyMac: an enabled GENERATE_VERIFY_MAC key and the MAC algorithm of its spec.
pub(crate) fn check_mac_key(k: &KeyRecord, alg: MacAlgorithm, operation: &str) -> Result<(), KmsError> {
    keyraft_core::lifecycle::check_crypto(k)?;
    if k.usage != KeyUsage::GenerateVerifyMac || !is_hmac(k.spec) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {operation}.",
            k.arn(),
            k.usage
        )));
    }
    if !mac_algorithms(k.spec, k.usage).contains(&alg) {
        return Err(KmsError::InvalidKeyUsage(format!("Algorithm {alg} is incompatible with key spec {}.", k.spec)));
    }
    Ok(())
}

impl Kms {
    /// Generates an HMAC key of `spec` for key `id` from the injected RNG and returns it wrapped
    /// (wrap format v2, version 1). The plaintext key is zeroized when this returns.
    pub(crate) fn generate_hmac_key(&self, id: &KeyId, spec: KeySpec) -> Result<WrappedMaterial, KmsError> {
        let key = HmacKey::generate(spec, &mut self.rng())
            .ok_or_else(|| KmsError::Internal(format!("{spec} is not an HMAC key spec")))?;
        let wrapped = keyraft_crypto::mac::wrap_hmac_key(self.root(), id.as_str(), 1, &key, &mut self.rng());
        Ok(WrappedMaterial { version: 1, created_ms: 0, wrapped, public_key: None })
    }

    /// The HMAC key of an HMAC KMS key's current version (unwrapped per call: one AES-GCM open).
    pub(crate) fn hmac_key(&self, k: &KeyRecord) -> Result<HmacKey, KmsError> {
        let m = k
            .material(k.current_version)
            .ok_or_else(|| KmsError::Internal(format!("{} has no key material", k.arn())))?;
        keyraft_crypto::mac::unwrap_hmac_key(self.root(), k.id.as_str(), m.version, &m.wrapped)
            .map_err(|e| KmsError::Internal(format!("cannot open key material: {e}")))
    }

    pub async fn generate_mac(
        &self,
        caller: &Caller,
        key: &KeyRef,
        message: &[u8],
        alg: MacAlgorithm,
    ) -> Result<MacOutput, KmsError> {
        check_mac_message(message)?;
        let k =
            self.resolve(caller, key, Access::new("kms:GenerateMac").with("kms:MacAlgorithm", alg.as_aws())).await?;
        check_mac_key(&k, alg, "GenerateMac")?;
        let mac = keyraft_crypto::mac::generate_mac(&self.hmac_key(&k)?, alg, message);
        Ok(MacOutput { mac, key: k.arn() })
    }
}
