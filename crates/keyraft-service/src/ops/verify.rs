//! Verify: checks a signature with the public key of a SIGN_VERIFY key; a signature that does not
//! match is KMSInvalidSignatureException, as in AWS.

use keyraft_core::algorithms::{MessageType, SigningAlgorithm};
use keyraft_core::{KeyArn, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::asymmetric::{check_signing, public_key, sign_error};
use crate::ops::sign::check_message;

impl Kms {
    /// `Ok` only for a valid signature.
    pub async fn verify(
        &self,
        caller: &Caller,
        key: &KeyRef,
        message: &[u8],
        message_type: MessageType,
        signature: &[u8],
        alg: SigningAlgorithm,
    ) -> Result<KeyArn, KmsError> {
        let k = self
            .resolve(
                caller,
                key,
                Access::new("kms:Verify")
                    .with("kms:SigningAlgorithm", alg.as_aws())
                    .with("kms:MessageType", message_type.as_aws()),
            )
            .await?;
        check_signing(&k, alg, "Verify")?;
        check_message(alg, message_type, message)?;
        let valid = keyraft_crypto::asymmetric::verify(k.spec, public_key(&k)?, alg, message_type, message, signature)
            .map_err(|e| sign_error(e, alg))?;
        if !valid {
            return Err(KmsError::InvalidSignature(String::new()));
        }
        Ok(k.arn())
    }
}
