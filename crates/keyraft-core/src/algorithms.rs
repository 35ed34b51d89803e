//! Asymmetric algorithms: AWS `SigningAlgorithmSpec`, `EncryptionAlgorithmSpec`, `MessageType`,
//! and which of them each key spec and usage allows (as AWS lists them in `KeyMetadata`).

use crate::model::{KeySpec, KeyUsage};

aws_enum!(
    /// AWS `SigningAlgorithmSpec`.
    SigningAlgorithm {
        RsassaPssSha256 = "RSASSA_PSS_SHA_256",
        RsassaPssSha384 = "RSASSA_PSS_SHA_384",
        RsassaPssSha512 = "RSASSA_PSS_SHA_512",
        RsassaPkcs1V15Sha256 = "RSASSA_PKCS1_V1_5_SHA_256",
        RsassaPkcs1V15Sha384 = "RSASSA_PKCS1_V1_5_SHA_384",
        RsassaPkcs1V15Sha512 = "RSASSA_PKCS1_V1_5_SHA_512",
        EcdsaSha256 = "ECDSA_SHA_256",
        EcdsaSha384 = "ECDSA_SHA_384",
        EcdsaSha512 = "ECDSA_SHA_512",
        Sm2dsa = "SM2DSA",
        MlDsaShake256 = "ML_DSA_SHAKE_256",
        Ed25519Sha512 = "ED25519_SHA_512",
        Ed25519PhSha512 = "ED25519_PH_SHA_512",
    }
);

aws_enum!(
    /// AWS `EncryptionAlgorithmSpec`.
    EncryptionAlgorithm {
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        Sm2pke = "SM2PKE",
    }
);

aws_enum!(
    /// AWS `MessageType` of Sign and Verify.
    MessageType {
        Raw = "RAW",
        Digest = "DIGEST",
        ExternalMu = "EXTERNAL_MU",
    }
);

aws_enum!(
    /// AWS `MacAlgorithmSpec` (GenerateMac, VerifyMac).
    MacAlgorithm {
        HmacSha224 = "HMAC_SHA_224",
        HmacSha256 = "HMAC_SHA_256",
        HmacSha384 = "HMAC_SHA_384",
        HmacSha512 = "HMAC_SHA_512",
    }
);

/// Whether a key spec is an HMAC key spec (HMAC_224/256/384/512).
pub fn is_hmac(spec: KeySpec) -> bool {
    matches!(spec, KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512)
}

/// The MAC algorithms of a key, as `KeyMetadata.MacAlgorithms` lists them: the one HMAC of its
/// spec's hash.
pub fn mac_algorithms(spec: KeySpec, usage: KeyUsage) -> Vec<MacAlgorithm> {
    if usage != KeyUsage::GenerateVerifyMac {
        return vec![];
    }
    match spec {
        KeySpec::Hmac224 => vec![MacAlgorithm::HmacSha224],
        KeySpec::Hmac256 => vec![MacAlgorithm::HmacSha256],
        KeySpec::Hmac384 => vec![MacAlgorithm::HmacSha384],
        KeySpec::Hmac512 => vec![MacAlgorithm::HmacSha512],
        _ => vec![],
    }
}

impl SigningAlgorithm {
    /// The length of the digest the algorithm signs (for `MessageType` DIGEST).
    pub fn digest_len(&self) -> usize {
        use SigningAlgorithm::*;
        match self {
            RsassaPssSha256 | RsassaPkcs1V15Sha256 | EcdsaSha256 | Sm2dsa => 32,
            RsassaPssSha384 | RsassaPkcs1V15Sha384 | EcdsaSha384 => 48,
            RsassaPssSha512 | RsassaPkcs1V15Sha512 | EcdsaSha512 | Ed25519Sha512 | Ed25519PhSha512 => 64,
            MlDsaShake256 => 64,
        }
    }
}

/// Whether a key spec is asymmetric (has a public key).
pub fn is_asymmetric(spec: KeySpec) -> bool {
    !matches!(
        spec,
        KeySpec::SymmetricDefault | KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512
    )
}

/// The signing algorithms of a key, as `KeyMetadata.SigningAlgorithms` lists them.
pub fn signing_algorithms(spec: KeySpec, usage: KeyUsage) -> Vec<SigningAlgorithm> {
    use SigningAlgorithm::*;
    if usage != KeyUsage::SignVerify {
        return vec![];
    }
    match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => vec![
            RsassaPkcs1V15Sha256,
            RsassaPkcs1V15Sha384,
            RsassaPkcs1V15Sha512,
            RsassaPssSha256,
            RsassaPssSha384,
            RsassaPssSha512,
        ],
        KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => vec![EcdsaSha256],
        KeySpec::EccNistP384 => vec![EcdsaSha384],
        KeySpec::EccNistP521 => vec![EcdsaSha512],
        KeySpec::EccNistEdwards25519 => vec![Ed25519Sha512, Ed25519PhSha512],
        KeySpec::Sm2 => vec![Sm2dsa],
        KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => vec![MlDsaShake256],
        _ => vec![],
    }
}

/// The encryption algorithms of a key, as `KeyMetadata.EncryptionAlgorithms` lists them.
pub fn encryption_algorithms(spec: KeySpec, usage: KeyUsage) -> Vec<EncryptionAlgorithm> {
    use EncryptionAlgorithm::*;
    if usage != KeyUsage::EncryptDecrypt {
        return vec![];
    }
    match spec {
        KeySpec::SymmetricDefault => vec![SymmetricDefault],
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => vec![RsaesOaepSha1, RsaesOaepSha256],
        KeySpec::Sm2 => vec![Sm2pke],
        _ => vec![],
    }
}

aws_enum!(
    /// AWS `KeyAgreementAlgorithmSpec`.
    KeyAgreementAlgorithm {
        Ecdh = "ECDH",
    }
);

/// The key agreement algorithms of a key, as `KeyMetadata.KeyAgreementAlgorithms` lists them.
pub fn key_agreement_algorithms(spec: KeySpec, usage: KeyUsage) -> Vec<KeyAgreementAlgorithm> {
    match (spec, usage) {
        (KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521 | KeySpec::Sm2, KeyUsage::KeyAgreement) => {
            vec![KeyAgreementAlgorithm::Ecdh]
        }
        _ => vec![],
    }
}

aws_enum!(
    /// AWS `EncapsulationAlgorithmSpec`.
    EncapsulationAlgorithm {
        MlKem = "ML_KEM",
    }
);

/// The encapsulation algorithms of a key, as `KeyMetadata.EncapsulationAlgorithms` lists them.
pub fn encapsulation_algorithms(spec: KeySpec, usage: KeyUsage) -> Vec<EncapsulationAlgorithm> {
    match (spec, usage) {
        (KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024, KeyUsage::EncapsulateDecapsulate) => {
            vec![EncapsulationAlgorithm::MlKem]
        }
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_per_spec() {
        assert_eq!(encryption_algorithms(KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt).len(), 1);
        assert_eq!(encryption_algorithms(KeySpec::Rsa2048, KeyUsage::SignVerify), vec![]);
        assert_eq!(signing_algorithms(KeySpec::Rsa4096, KeyUsage::SignVerify).len(), 6);
        assert_eq!(signing_algorithms(KeySpec::EccNistP521, KeyUsage::SignVerify), vec![SigningAlgorithm::EcdsaSha512]);
        assert!(is_asymmetric(KeySpec::EccNistEdwards25519));
        assert!(!is_asymmetric(KeySpec::Hmac256));
        for a in SigningAlgorithm::ALL {
            assert_eq!(SigningAlgorithm::from_aws(a.as_aws()), Some(*a));
        }
    }
}
