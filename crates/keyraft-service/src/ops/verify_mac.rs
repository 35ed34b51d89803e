//! VerifyMac: recomputes the HMAC of a message under an HMAC key and compares it with the given
//! MAC in constant time; a MAC that does not match is KMSInvalidMacException, as in AWS.

use keyraft_core::algorithms::MacAlgorithm;
use keyraft_core::{KeyArn, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::generate_mac::{check_mac_key, check_mac_message};

impl Kms {
    /// `Ok` only for a valid MAC.
    pub async fn verify_mac(
        &self,
        caller: &Caller,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        alg: MacAlgorithm,
    ) -> Result<KeyArn, KmsError> {
        check_mac_message(message)?;
        let k = self.resolve(caller, key, Access::new("kms:VerifyMac").with("kms:MacAlgorithm", alg.as_aws())).await?;
        check_mac_key(&k, alg, "VerifyMac")?;
        if !keyraft_crypto::mac::verify_mac(&self.hmac_key(&k)?, alg, message, mac) {
            return Err(KmsError::InvalidMac(String::new()));
        }
        Ok(k.arn())
    }
}
