//! Encapsulate: a fresh ML-KEM shared secret and its ciphertext under the public key of an
//! ENCAPSULATE_DECAPSULATE key (the service does what a holder of GetPublicKey's key could do).

use keyraft_core::algorithms::{encapsulation_algorithms, EncapsulationAlgorithm};
use keyraft_core::{KeyArn, KeyRecord, KeyRef, KeyUsage};
use keyraft_crypto::CryptoError;
use zeroize::Zeroizing;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::asymmetric::public_key;

pub struct EncapsulateOutput {
    /// The ML-KEM shared secret (32 bytes), zeroized on drop.
    pub shared_secret: Zeroizing<Vec<u8>>,
    /// The ML-KEM ciphertext (`SharedSecretCiphertextBlob`).
    pub ciphertext: Vec<u8>,
    pub key: KeyArn,
}

/// Encapsulate and Decapsulate: an enabled ENCAPSULATE_DECAPSULATE key and an encapsulation
/// algorithm of its spec.
pub(crate) fn check_encapsulation(k: &KeyRecord, alg: EncapsulationAlgorithm, operation: &str) -> Result<(), KmsError> {
    keyraft_core::lifecycle::check_crypto(k)?;
    if k.usage != KeyUsage::EncapsulateDecapsulate {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {operation}.",
            k.arn(),
            k.usage
        )));
    }
    if !encapsulation_algorithms(k.spec, k.usage).contains(&alg) {
        return Err(KmsError::InvalidKeyUsage(format!("Algorithm {alg} is incompatible with key spec {}.", k.spec)));
    }
    Ok(())
}

pub(crate) fn kem_error(e: CryptoError) -> KmsError {
    match e {
        CryptoError::Unsupported(m) => KmsError::Unsupported(m),
        other => KmsError::Internal(format!("ML-KEM operation failed: {other}")),
    }
}

impl Kms {
    pub async fn encapsulate(
        &self,
        caller: &Caller,
        key: &KeyRef,
        alg: EncapsulationAlgorithm,
    ) -> Result<EncapsulateOutput, KmsError> {
        let k = self.resolve(caller, key, Access::new("kms:Encapsulate")).await?;
        check_encapsulation(&k, alg, "Encapsulate")?;
        let (ciphertext, shared_secret) =
            keyraft_crypto::pq::encapsulate(k.spec, public_key(&k)?).map_err(kem_error)?;
        Ok(EncapsulateOutput { shared_secret, ciphertext, key: k.arn() })
    }
}
