//! Secret types: private bytes, zeroized on drop, no `Debug`, `Clone` or `Serialize`.

use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;

/// A 256-bit symmetric backing key (one version of a KMS key's material).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct KeyMaterial([u8; 32]);

impl KeyMaterial {
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        KeyMaterial(b)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Length { expected: 32 })?;
        Ok(KeyMaterial(arr))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The raw bytes, for tests that plant known material and then scan disks for it.
    pub fn expose_for_test(&self) -> &[u8] {
        &self.0
    }
}

/// A region's root key: it wraps every backing key at rest. Never leaves the node's secret file.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RootKey {
    bytes: [u8; 32],
    generation: u32,
}

impl RootKey {
    pub fn generate(rng: &mut impl CryptoRngCore, generation: u32) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        RootKey { bytes, generation }
    }

    pub fn from_slice(bytes: &[u8], generation: u32) -> Result<Self, CryptoError> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Length { expected: 32 })?;
        Ok(RootKey { bytes, generation })
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Hex of the key bytes, zeroized on drop: for writing the node's secret file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(64));
        for b in self.bytes {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

/// Decrypted data on its way to a caller; zeroized on drop.
pub type Plaintext = Zeroizing<Vec<u8>>;
