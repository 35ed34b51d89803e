//! Sign: a signature over a message (RAW, at most 4096 bytes) or a precomputed digest (DIGEST)
//! with the private key of a SIGN_VERIFY key.

use keyraft_core::algorithms::{MessageType, SigningAlgorithm};
use keyraft_core::{KeyArn, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::asymmetric::{check_signing, sign_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOutput {
    pub signature: Vec<u8>,
    pub key: KeyArn,
}

/// AWS's checks of the message that do not depend on the key: RAW ≤ 4096 bytes, a DIGEST as long
/// as the algorithm's hash, Ed25519 RAW only, EXTERNAL_MU for ML-DSA only.
pub(crate) fn check_message(alg: SigningAlgorithm, message_type: MessageType, message: &[u8]) -> Result<(), KmsError> {
    if message.is_empty() || message.len() > 4096 {
        return Err(KmsError::Validation(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and 4096".into(),
        ));
    }
    match (message_type, alg) {
        (MessageType::Raw, SigningAlgorithm::Ed25519PhSha512) => {
            Err(KmsError::Validation("ED25519_PH_SHA_512 signing algorithm requires MessageType DIGEST.".into()))
        }
        (MessageType::Digest, SigningAlgorithm::Ed25519Sha512) => {
            Err(KmsError::Validation("ED25519_SHA_512 signing algorithm requires MessageType RAW.".into()))
        }
        (MessageType::Digest, SigningAlgorithm::MlDsaShake256) => Err(KmsError::Validation(
            "ML_DSA_SHAKE_256 signing algorithm requires MessageType RAW or EXTERNAL_MU.".into(),
        )),
        (MessageType::Digest, _) if message.len() != alg.digest_len() => Err(KmsError::Validation(format!(
            "Digest is invalid length for algorithm {alg}: a {alg} digest is {} bytes.",
            alg.digest_len()
        ))),
        (MessageType::ExternalMu, SigningAlgorithm::MlDsaShake256) if message.len() != 64 => Err(KmsError::Validation(
            "Message is invalid length for MessageType EXTERNAL_MU: an ML-DSA mu is 64 bytes.".into(),
        )),
        (MessageType::ExternalMu, SigningAlgorithm::MlDsaShake256) => Ok(()),
        (MessageType::ExternalMu, _) => {
            Err(KmsError::Validation(format!("MessageType EXTERNAL_MU is not valid for signing algorithm {alg}.")))
        }
        _ => Ok(()),
    }
}

impl Kms {
    pub async fn sign(
        &self,
        caller: &Caller,
        key: &KeyRef,
        message: &[u8],
        message_type: MessageType,
        alg: SigningAlgorithm,
    ) -> Result<SignOutput, KmsError> {
        let k = self
            .resolve(
                caller,
                key,
                Access::new("kms:Sign")
                    .with("kms:SigningAlgorithm", alg.as_aws())
                    .with("kms:MessageType", message_type.as_aws()),
            )
            .await?;
        check_signing(&k, alg, "Sign")?;
        check_message(alg, message_type, message)?;
        let private = self.private_key(&k)?;
        let signature =
            keyraft_crypto::asymmetric::sign(&private, alg, message_type, message).map_err(|e| sign_error(e, alg))?;
        Ok(SignOutput { signature, key: k.arn() })
    }
}
