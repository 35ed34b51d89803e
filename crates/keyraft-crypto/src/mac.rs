//! HMAC keys (HMAC_224/256/384/512) on aws-lc-rs: key generation from the injected RNG, wrapping
//! under the root key (wrap format v2), GenerateMac and VerifyMac (RFC 2104).
//!
//! The key is random bytes as long as the spec says (HMAC_224: 224 bits … HMAC_512: 512 bits),
//! held only in [`HmacKey`] (zeroized on drop, no `Debug`/`Clone`). Verification recomputes the
//! tag and compares in constant time (aws-lc-rs `hmac::verify`).

use aws_lc_rs::hmac;
use keyraft_core::algorithms::MacAlgorithm;
use keyraft_core::KeySpec;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::secret::RootKey;

/// The secret of an HMAC KMS key; zeroized on drop.
pub struct HmacKey(Zeroizing<Vec<u8>>);

impl HmacKey {
    /// Random key bytes of the length of `spec`; `None` for a spec that is not HMAC.
    pub fn generate(spec: KeySpec, rng: &mut impl CryptoRngCore) -> Option<HmacKey> {
        let mut bytes = Zeroizing::new(vec![0u8; key_len(spec)?]);
        rng.fill_bytes(&mut bytes);
        Some(HmacKey(bytes))
    }

    /// A key from known bytes (imported key material, test vectors).
    pub fn from_bytes(bytes: &[u8]) -> HmacKey {
        HmacKey(Zeroizing::new(bytes.to_vec()))
    }

    /// The raw bytes, for tests that scan disks for generated secrets.
    pub fn expose_for_test(&self) -> &[u8] {
        &self.0
    }
}

/// The key length in bytes of an HMAC key spec (the spec's bits / 8), as AWS generates them.
pub fn key_len(spec: KeySpec) -> Option<usize> {
    match spec {
        KeySpec::Hmac224 => Some(28),
        KeySpec::Hmac256 => Some(32),
        KeySpec::Hmac384 => Some(48),
        KeySpec::Hmac512 => Some(64),
        _ => None,
    }
}

/// The lengths in bytes AWS accepts for imported HMAC key material of `spec` (at least the
/// hash's output, at most its block size): HMAC_224 and HMAC_256 28/32–64, HMAC_384 and
/// HMAC_512 48/64–128.
pub fn import_len(spec: KeySpec) -> Option<std::ops::RangeInclusive<usize>> {
    match spec {
        KeySpec::Hmac224 => Some(28..=64),
        KeySpec::Hmac256 => Some(32..=64),
        KeySpec::Hmac384 => Some(48..=128),
        KeySpec::Hmac512 => Some(64..=128),
        _ => None,
    }
}

fn algorithm(alg: MacAlgorithm) -> hmac::Algorithm {
    match alg {
        MacAlgorithm::HmacSha224 => hmac::HMAC_SHA224,
        MacAlgorithm::HmacSha256 => hmac::HMAC_SHA256,
        MacAlgorithm::HmacSha384 => hmac::HMAC_SHA384,
        MacAlgorithm::HmacSha512 => hmac::HMAC_SHA512,
    }
}

/// Wraps an HMAC key under the root key (wrap format v2).
pub fn wrap_hmac_key(
    root: &RootKey,
    key_id: &str,
    version: u32,
    key: &HmacKey,
    rng: &mut impl CryptoRngCore,
) -> Vec<u8> {
    crate::wrap::wrap_bytes(root, key_id, version, &key.0, rng)
}

/// Opens an HMAC key wrapped by [`wrap_hmac_key`].
pub fn unwrap_hmac_key(root: &RootKey, key_id: &str, version: u32, wrapped: &[u8]) -> Result<HmacKey, CryptoError> {
    Ok(HmacKey(crate::wrap::unwrap_bytes(root, key_id, version, wrapped)?))
}

/// The HMAC of `message` under `key`.
pub fn generate_mac(key: &HmacKey, alg: MacAlgorithm, message: &[u8]) -> Vec<u8> {
    let k = hmac::Key::new(algorithm(alg), &key.0);
    hmac::sign(&k, message).as_ref().to_vec()
}

/// Whether `mac` is the HMAC of `message` under `key`; compared in constant time.
pub fn verify_mac(key: &HmacKey, alg: MacAlgorithm, message: &[u8], mac: &[u8]) -> bool {
    let k = hmac::Key::new(algorithm(alg), &key.0);
    hmac::verify(&k, message, mac).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (full-length outputs), for every hash.
    #[test]
    fn rfc4231_vectors() {
        let cases: Vec<(Vec<u8>, Vec<u8>, [&str; 4])> = vec![
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                [
                    "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
                ],
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                [
                    "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
                    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
                ],
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                [
                    "7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea",
                    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                    "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
                    "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
                ],
            ),
            (
                h("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                [
                    "6c11506874013cac6a2abc1bb382627cec6a90d86efc012de7afec5a",
                    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
                    "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
                    "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
                ],
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                [
                    "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                    "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
                    "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
                ],
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                [
                    "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
                    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                    "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
                    "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
                ],
            ),
        ];
        let algs =
            [MacAlgorithm::HmacSha224, MacAlgorithm::HmacSha256, MacAlgorithm::HmacSha384, MacAlgorithm::HmacSha512];
        for (i, (key, data, tags)) in cases.iter().enumerate() {
            let key = HmacKey::from_bytes(key);
            for (alg, tag) in algs.iter().zip(tags) {
                let tag = h(tag);
                assert_eq!(generate_mac(&key, *alg, data), tag, "case {i} {alg}");
                assert!(verify_mac(&key, *alg, data, &tag), "case {i} {alg}");
                let mut bad = tag.clone();
                bad[0] ^= 1;
                assert!(!verify_mac(&key, *alg, data, &bad));
                assert!(!verify_mac(&key, *alg, data, &tag[..tag.len() - 1]));
                assert!(!verify_mac(&key, *alg, &data[1..], &tag));
            }
        }
    }

    #[test]
    fn key_lengths_and_wrapping() {
        let root = RootKey::generate(&mut OsRng, 1);
        for (spec, len) in
            [(KeySpec::Hmac224, 28), (KeySpec::Hmac256, 32), (KeySpec::Hmac384, 48), (KeySpec::Hmac512, 64)]
        {
            let key = HmacKey::generate(spec, &mut OsRng).unwrap();
            assert_eq!(key.expose_for_test().len(), len);
            let w = wrap_hmac_key(&root, "k1", 1, &key, &mut OsRng);
            assert_eq!(w[0], 2, "wrap format v2");
            assert!(w.windows(len).all(|win| win != key.expose_for_test()));
            let back = unwrap_hmac_key(&root, "k1", 1, &w).unwrap();
            assert_eq!(back.expose_for_test(), key.expose_for_test());
            assert!(unwrap_hmac_key(&root, "k2", 1, &w).is_err());
        }
        assert!(HmacKey::generate(KeySpec::SymmetricDefault, &mut OsRng).is_none());
        assert!(HmacKey::generate(KeySpec::Rsa2048, &mut OsRng).is_none());
    }
}
