//! DeriveSharedSecret: ECDH of a KEY_AGREEMENT key's private key with a peer's public key (DER
//! SubjectPublicKeyInfo on the same curve); returns the raw shared secret, as AWS does.

use keyraft_core::algorithms::KeyAgreementAlgorithm;
use keyraft_core::{KeyArn, KeyRecord, KeyRef, KeyUsage, Origin};
use keyraft_crypto::agreement::{self, AgreementError};
use keyraft_crypto::asymmetric::PrivateKey;
use keyraft_crypto::Plaintext;

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};

pub struct SharedSecretOutput {
    /// The raw ECDH shared secret (the x-coordinate), zeroized on drop.
    pub shared_secret: Plaintext,
    pub key: KeyArn,
    pub origin: Origin,
}

impl Kms {
    pub async fn derive_shared_secret(
        &self,
        caller: &Caller,
        key: &KeyRef,
        alg: KeyAgreementAlgorithm,
        peer_public_key: &[u8],
    ) -> Result<SharedSecretOutput, KmsError> {
        let k = self
            .resolve(caller, key, Access::new("kms:DeriveSharedSecret").with("kms:KeyAgreementAlgorithm", alg.as_aws()))
            .await?;
        keyraft_core::lifecycle::check_crypto(&k)?;
        if k.usage != KeyUsage::KeyAgreement {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} key usage is {} which is not valid for DeriveSharedSecret.",
                k.arn(),
                k.usage
            )));
        }
        if !keyraft_core::algorithms::key_agreement_algorithms(k.spec, k.usage).contains(&alg) {
            return Err(KmsError::InvalidKeyUsage(format!(
                "Algorithm {alg} is incompatible with key spec {}.",
                k.spec
            )));
        }
        let private = self.private_key_pkcs8(&k)?;
        let shared_secret = agreement::ecdh(k.spec, &private, peer_public_key).map_err(|e| match e {
            AgreementError::InvalidPublicKey => KmsError::Validation(format!(
                "The public key is not a valid DER-encoded SubjectPublicKeyInfo of a point on the curve of key spec {}.",
                k.spec
            )),
            AgreementError::Unsupported(m) => KmsError::Unsupported(m),
            AgreementError::Internal => KmsError::Internal("key agreement failed".into()),
        })?;
        Ok(SharedSecretOutput { shared_secret, key: k.arn(), origin: k.origin })
    }
}

impl Kms {
    /// The PKCS#8 private key of an asymmetric key's current version, unwrapped for one use
    /// (zeroized when dropped). ECDH keys are not cached as parsed keys: the `LoadedKey` cache
    /// holds signing keys.
    fn private_key_pkcs8(&self, k: &KeyRecord) -> Result<PrivateKey, KmsError> {
        let m = k
            .material(k.current_version)
            .ok_or_else(|| KmsError::Internal(format!("{} has no key material", k.arn())))?;
        keyraft_crypto::asymmetric::unwrap_private_key(self.root(), k.id.as_str(), m.version, &m.wrapped)
            .map_err(|e| KmsError::Internal(format!("cannot open key material: {e}")))
    }
}
