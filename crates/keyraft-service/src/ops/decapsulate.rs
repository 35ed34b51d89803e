//! Decapsulate: the ML-KEM shared secret of a ciphertext, with the private key of an
//! ENCAPSULATE_DECAPSULATE key. A ciphertext of the wrong length for the key's spec is
//! InvalidCiphertextException; a modified ciphertext of the right length decapsulates to ML-KEM's
//! implicit-rejection secret (pseudo-random, not the encapsulated one): ML-KEM cannot tell.

use keyraft_core::algorithms::EncapsulationAlgorithm;
use keyraft_core::{KeyArn, KeyRef};
use keyraft_crypto::CryptoError;
use zeroize::Zeroizing;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::encapsulate::{check_encapsulation, kem_error};

pub struct DecapsulateOutput {
    /// The ML-KEM shared secret (32 bytes), zeroized on drop.
    pub shared_secret: Zeroizing<Vec<u8>>,
    pub key: KeyArn,
}

impl Kms {
    pub async fn decapsulate(
        &self,
        caller: &Caller,
        key: &KeyRef,
        ciphertext: &[u8],
        alg: EncapsulationAlgorithm,
    ) -> Result<DecapsulateOutput, KmsError> {
        let k = self.resolve(caller, key, Access::new("kms:Decapsulate")).await?;
        check_encapsulation(&k, alg, "Decapsulate")?;
        let private = self.private_key(&k)?;
        let shared_secret = private.decapsulate(ciphertext).map_err(|e| match e {
            CryptoError::Length { .. } => KmsError::InvalidCiphertext(format!(
                "The ciphertext is not a valid ML-KEM ciphertext for key spec {}.",
                k.spec
            )),
            other => kem_error(other),
        })?;
        Ok(DecapsulateOutput { shared_secret, key: k.arn() })
    }
}
