//! Key agreement (DeriveSharedSecret): ECDH on NIST P-256, P-384 and P-521 with aws-lc-rs.
//!
//! The KMS key's private key is the stored PKCS#8 of an EC key pair ([`PrivateKey`]), parsed per
//! call into an aws-lc-rs `agreement::PrivateKey` (AWS-LC cleanses it when freed). The peer's key
//! must be a DER SubjectPublicKeyInfo on the same curve, as AWS requires; aws-lc-rs checks that
//! the point is on the curve. The result is the raw shared secret (the x-coordinate of the shared
//! point, as long as the field), which is what AWS's DeriveSharedSecret returns.

use aws_lc_rs::agreement::{self, Algorithm, ParsedPublicKey, ParsedPublicKeyFormat, UnparsedPublicKey};
use keyraft_core::KeySpec;
use zeroize::Zeroizing;

use crate::asymmetric::PrivateKey;
use crate::secret::Plaintext;

/// Why a key agreement failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgreementError {
    /// The key spec has no ECDH here (secp256k1, SM2, RSA, …).
    #[error("{0}")]
    Unsupported(String),
    /// The peer's public key is not a DER SubjectPublicKeyInfo of a valid point on the key's curve.
    #[error("the public key is not a valid DER SubjectPublicKeyInfo on the curve of the KMS key")]
    InvalidPublicKey,
    /// The stored private key does not parse, or the agreement failed inside the library.
    #[error("key agreement failed")]
    Internal,
}

fn algorithm(spec: KeySpec) -> Option<&'static Algorithm> {
    match spec {
        KeySpec::EccNistP256 => Some(&agreement::ECDH_P256),
        KeySpec::EccNistP384 => Some(&agreement::ECDH_P384),
        KeySpec::EccNistP521 => Some(&agreement::ECDH_P521),
        _ => None,
    }
}

/// Whether keyraft can do ECDH with keys of `spec`.
pub fn supports_ecdh(spec: KeySpec) -> bool {
    algorithm(spec).is_some()
}

/// ECDH of the KMS key's private key (PKCS#8 of a key of `spec`) with the peer's public key (DER
/// SubjectPublicKeyInfo): the raw shared secret, zeroized on drop.
pub fn ecdh(spec: KeySpec, private: &PrivateKey, peer_public_key: &[u8]) -> Result<Plaintext, AgreementError> {
    let alg = algorithm(spec)
        .ok_or_else(|| AgreementError::Unsupported(format!("KeySpec {spec} does not support key agreement")))?;
    let peer = ParsedPublicKey::try_from(UnparsedPublicKey::new(alg, peer_public_key))
        .map_err(|_| AgreementError::InvalidPublicKey)?;
    // aws-lc-rs also takes bare SEC1 points; AWS takes SubjectPublicKeyInfo only.
    if peer.format() != ParsedPublicKeyFormat::X509 || peer.alg() != alg {
        return Err(AgreementError::InvalidPublicKey);
    }
    let key = agreement::PrivateKey::from_private_key_der(alg, private.der()).map_err(|_| AgreementError::Internal)?;
    agreement::agree(&key, peer, AgreementError::Internal, |secret| Ok(Zeroizing::new(secret.to_vec())))
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};

    use super::*;
    use crate::asymmetric::generate;

    #[test]
    fn both_sides_agree_on_every_curve() {
        for (spec, len) in [(KeySpec::EccNistP256, 32), (KeySpec::EccNistP384, 48), (KeySpec::EccNistP521, 66)] {
            let a = generate(spec).unwrap();
            let b = generate(spec).unwrap();
            let ab = ecdh(spec, &a.private, &b.public_key).unwrap();
            let ba = ecdh(spec, &b.private, &a.public_key).unwrap();
            assert_eq!(ab.len(), len, "{spec}");
            assert_eq!(ab.as_slice(), ba.as_slice(), "{spec}");
        }
    }

    #[test]
    fn matches_an_independent_aws_lc_rs_agreement() {
        let peer = agreement::PrivateKey::generate(&agreement::ECDH_P256).unwrap();
        let peer_spki: PublicKeyX509Der = peer.compute_public_key().unwrap().as_der().unwrap();
        let kms = generate(KeySpec::EccNistP256).unwrap();
        let ours = ecdh(KeySpec::EccNistP256, &kms.private, peer_spki.as_ref()).unwrap();
        let theirs = agreement::agree(
            &peer,
            UnparsedPublicKey::new(&agreement::ECDH_P256, kms.public_key.as_slice()),
            (),
            |s| Ok(s.to_vec()),
        )
        .unwrap();
        assert_eq!(ours.as_slice(), theirs.as_slice());
    }

    #[test]
    fn refuses_other_curves_bare_points_and_garbage() {
        let kms = generate(KeySpec::EccNistP256).unwrap();
        let p384 = generate(KeySpec::EccNistP384).unwrap();
        let k1 = generate(KeySpec::EccSecgP256k1).unwrap();
        let rsa = generate(KeySpec::Rsa2048).unwrap();
        for bad in [&p384.public_key[..], &k1.public_key[..], &rsa.public_key[..], b"garbage", &[]] {
            assert_eq!(ecdh(KeySpec::EccNistP256, &kms.private, bad), Err(AgreementError::InvalidPublicKey));
        }
        let peer = agreement::PrivateKey::generate(&agreement::ECDH_P256).unwrap();
        let point = peer.compute_public_key().unwrap();
        assert_eq!(
            ecdh(KeySpec::EccNistP256, &kms.private, point.as_ref()),
            Err(AgreementError::InvalidPublicKey),
            "a bare SEC1 point"
        );
        assert!(matches!(
            ecdh(KeySpec::EccSecgP256k1, &k1.private, &k1.public_key),
            Err(AgreementError::Unsupported(_))
        ));
    }
}
