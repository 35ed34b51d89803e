//! GetPublicKey: the DER SubjectPublicKeyInfo of an asymmetric key, with its spec, usage and
//! algorithms. A crypto operation in the key-state matrix (a disabled key is DisabledException).

use keyraft_core::algorithms::is_asymmetric;
use keyraft_core::{KeyRecord, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::asymmetric::public_key;

pub struct PublicKeyOutput {
    pub key: KeyRecord,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
}

impl Kms {
    pub async fn get_public_key(&self, caller: &Caller, key: &KeyRef) -> Result<PublicKeyOutput, KmsError> {
        let k = self.resolve(caller, key, Access::new("kms:GetPublicKey")).await?;
        keyraft_core::lifecycle::check_crypto(&k)?;
        if !is_asymmetric(k.spec) {
            return Err(KmsError::Unsupported(format!(
                "{} is not an asymmetric KMS key; GetPublicKey needs an asymmetric key.",
                k.arn()
            )));
        }
        let public_key = public_key(&k)?.to_vec();
        Ok(PublicKeyOutput { key: k, public_key })
    }
}
