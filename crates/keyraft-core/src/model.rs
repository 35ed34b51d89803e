//! The key model: what a region stores about each key and alias.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, AliasName, KeyArn, KeyId, Region};

aws_enum!(
    /// AWS `KeyState`.
    KeyState {
        Creating = "Creating",
        Enabled = "Enabled",
        Disabled = "Disabled",
        PendingDeletion = "PendingDeletion",
        PendingImport = "PendingImport",
        PendingReplicaDeletion = "PendingReplicaDeletion",
        Unavailable = "Unavailable",
        Updating = "Updating",
    }
);

aws_enum!(
    /// AWS `KeySpec`.
    KeySpec {
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        EccNistP256 = "ECC_NIST_P256",
        EccNistP384 = "ECC_NIST_P384",
        EccNistP521 = "ECC_NIST_P521",
        EccSecgP256k1 = "ECC_SECG_P256K1",
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        Hmac224 = "HMAC_224",
        Hmac256 = "HMAC_256",
        Hmac384 = "HMAC_384",
        Hmac512 = "HMAC_512",
        Sm2 = "SM2",
        MlDsa44 = "ML_DSA_44",
        MlDsa65 = "ML_DSA_65",
        MlDsa87 = "ML_DSA_87",
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
        MlKem512 = "ML_KEM_512",
        MlKem768 = "ML_KEM_768",
        MlKem1024 = "ML_KEM_1024",
    }
);

aws_enum!(
    /// AWS `KeyUsageType`.
    KeyUsage {
        SignVerify = "SIGN_VERIFY",
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        KeyAgreement = "KEY_AGREEMENT",
        EncapsulateDecapsulate = "ENCAPSULATE_DECAPSULATE",
    }
);

aws_enum!(
    /// AWS `OriginType`.
    Origin {
        AwsKms = "AWS_KMS",
        External = "EXTERNAL",
        AwsCloudhsm = "AWS_CLOUDHSM",
        ExternalKeyStore = "EXTERNAL_KEY_STORE",
    }
);

/// One backing-key version of a key, wrapped under the region's root key. The plaintext never
/// appears in the model; only `keyraft-crypto` can open `wrapped`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedMaterial {
    pub version: u32,
    pub created_ms: u64,
    pub wrapped: Vec<u8>,
    /// Asymmetric keys: the public key, DER SubjectPublicKeyInfo, in the clear (`wrapped` then
    /// holds the PKCS#8 private key in wrap format v2). `None` for symmetric material.
    pub public_key: Option<Vec<u8>>,
}

/// Everything a region stores about one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: KeyId,
    pub account: AccountId,
    pub region: Region,
    pub description: String,
    pub creation_ms: u64,
    pub state: KeyState,
    /// When a key in `PendingDeletion` is deleted (ms since the epoch).
    pub deletion_ms: Option<u64>,
    pub pending_window_days: Option<u32>,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub origin: Origin,
    pub multi_region: bool,
    pub tags: BTreeMap<String, String>,
    /// Key policies by name (AWS has only `default`).
    pub policies: BTreeMap<String, String>,
    /// Automatic rotation period in days when rotation is enabled.
    pub rotation_period_days: Option<u32>,
    /// Backing-key versions, ascending.
    pub material: Vec<WrappedMaterial>,
    /// The version new ciphertexts are made with.
    pub current_version: u32,
    /// Automatic-rotation schedule and completed rotations (`rotation.rs`).
    pub rotation: crate::rotation::KeyRotation,
    /// Origin EXTERNAL: the imported material's commitment and expiry (`import.rs`); `None`
    /// before the first import and for every other origin.
    /// Added in stored format 2 (keyraft-store's codec reads format 1 without it).
    pub import: Option<crate::import::ImportState>,
}

impl KeyRecord {
    /// A new enabled SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT key of origin AWS_KMS with nothing else
    /// set (no material yet, version 1 current); set the rest with struct update syntax.
    pub fn new(id: KeyId, account: AccountId, region: Region) -> Self {
        KeyRecord {
            id,
            account,
            region,
            description: String::new(),
            creation_ms: 0,
            state: KeyState::Enabled,
            deletion_ms: None,
            pending_window_days: None,
            spec: KeySpec::SymmetricDefault,
            usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            multi_region: false,
            tags: BTreeMap::new(),
            policies: BTreeMap::new(),
            rotation_period_days: None,
            material: Vec::new(),
            current_version: 1,
            rotation: Default::default(),
            import: None,
        }
    }

    pub fn arn(&self) -> KeyArn {
        KeyArn { region: self.region.clone(), account: self.account.clone(), key_id: self.id.clone() }
    }

    pub fn material(&self, version: u32) -> Option<&WrappedMaterial> {
        self.material.iter().find(|m| m.version == version)
    }

    pub fn enabled(&self) -> bool {
        self.state == KeyState::Enabled
    }
}

/// An alias and the key it points to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub name: AliasName,
    pub target: KeyId,
    pub creation_ms: u64,
    pub last_updated_ms: u64,
}
