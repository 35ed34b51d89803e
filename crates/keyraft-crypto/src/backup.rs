//! The backup file of a region (`keyraft backup`), format 1 (frozen):
//!
//! ```text
//! "KRBK" | 0x01 | root-key generation (u32 BE)
//!        | C (u16 BE) | cluster id (C bytes, UTF-8) | R (u8) | region (R bytes, ASCII)
//!        | Raft applied index (u64 BE) | created, ms since the epoch (u64 BE) | keys (u64 BE)
//!        | nonce (12) | AES-256-GCM(payload) (n + 16)
//! key = HKDF-SHA256(salt = "keyraft/backup/v1", ikm = root key, info = "keyraft backup v1")
//! AAD = "keyraft/backup/v1" | every byte before the nonce
//! ```
//!
//! The header is in the clear (an operator can see what a file is without the key) and
//! authenticated: nobody without the region's root key can read the payload or change a byte
//! of the file undetected. The payload is whatever the caller seals (keyraft: the region state
//! in the snapshot encoding, which holds only material wrapped under the same root key).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_lc_rs::hkdf;
use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;
use crate::secret::RootKey;

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 4] = b"KRBK";
/// The backup file format this build writes and reads.
pub const FORMAT: u8 = 1;
const LABEL: &[u8] = b"keyraft/backup/v1";
const INFO: &[u8] = b"keyraft backup v1";
const NONCE: usize = 12;
const TAG: usize = 16;

/// What a backup file says about itself, in the clear (authenticated by [`open`] only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupHeader {
    /// The generation of the root key the file is sealed under.
    pub root_generation: u32,
    pub cluster_id: String,
    pub region: String,
    /// The Raft log index the backed-up state had applied.
    pub applied_index: u64,
    /// When the backup was taken, ms since the Unix epoch.
    pub created_ms: u64,
    /// How many keys the backup holds.
    pub keys: u64,
}

impl BackupHeader {
    fn encode(&self) -> Result<Vec<u8>, CryptoError> {
        let cluster = u16::try_from(self.cluster_id.len()).map_err(|_| CryptoError::Malformed)?;
        let region = u8::try_from(self.region.len()).map_err(|_| CryptoError::Malformed)?;
        let mut h = Vec::with_capacity(4 + 1 + 4 + 2 + 1 + 24 + self.cluster_id.len() + self.region.len());
        h.extend_from_slice(MAGIC);
        h.push(FORMAT);
        h.extend_from_slice(&self.root_generation.to_be_bytes());
        h.extend_from_slice(&cluster.to_be_bytes());
        h.extend_from_slice(self.cluster_id.as_bytes());
        h.push(region);
        h.extend_from_slice(self.region.as_bytes());
        h.extend_from_slice(&self.applied_index.to_be_bytes());
        h.extend_from_slice(&self.created_ms.to_be_bytes());
        h.extend_from_slice(&self.keys.to_be_bytes());
        Ok(h)
    }
}

/// Reads the clear header of a backup file; returns it and its length in bytes. Not
/// authenticated: only [`open`] proves the header genuine.
pub fn read_header(file: &[u8]) -> Result<(BackupHeader, usize), CryptoError> {
    let mut r = Reader { bytes: file, at: 0 };
    if r.take(4)? != MAGIC {
        return Err(CryptoError::Malformed);
    }
    if r.take(1)? != [FORMAT] {
        return Err(CryptoError::Unsupported("backup file of an unknown format version".into()));
    }
    let root_generation = u32::from_be_bytes(r.array()?);
    let c = usize::from(u16::from_be_bytes(r.array()?));
    let cluster_id = String::from_utf8(r.take(c)?.to_vec()).map_err(|_| CryptoError::Malformed)?;
    let [rl] = r.array()?;
    let region = String::from_utf8(r.take(usize::from(rl))?.to_vec()).map_err(|_| CryptoError::Malformed)?;
    let applied_index = u64::from_be_bytes(r.array()?);
    let created_ms = u64::from_be_bytes(r.array()?);
    let keys = u64::from_be_bytes(r.array()?);
    Ok((BackupHeader { root_generation, cluster_id, region, applied_index, created_ms, keys }, r.at))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CryptoError> {
        let end = self.at.checked_add(n).ok_or(CryptoError::Malformed)?;
        let out = self.bytes.get(self.at..end).ok_or(CryptoError::Malformed)?;
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CryptoError> {
        self.take(N)?.try_into().map_err(|_| CryptoError::Malformed)
    }
}

/// The key a region's backups are sealed under. Zeroized on drop; no `Debug`, `Clone`.
#[derive(Zeroize, ZeroizeOnDrop)]
struct BackupKey([u8; 32]);

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl BackupKey {
    fn derive(root: &RootKey) -> Result<Self, CryptoError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, LABEL).extract(root.bytes());
        let info = [INFO];
        let okm = prk.expand(&info, Len32).map_err(|_| CryptoError::Authentication)?;
        let mut key = BackupKey([0u8; 32]);
        okm.fill(&mut key.0).map_err(|_| CryptoError::Authentication)?;
        Ok(key)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.0).into())
    }
}

fn aad(header: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(LABEL.len() + header.len());
    a.extend_from_slice(LABEL);
    a.extend_from_slice(header);
    a
}

/// Seals `payload` under `root` as a backup file with `header` (whose `root_generation` must be
/// `root`'s).
pub fn seal(
    root: &RootKey,
    header: &BackupHeader,
    payload: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    if header.root_generation != root.generation() {
        return Err(CryptoError::Unsupported("the header names another root-key generation".into()));
    }
    let head = header.encode()?;
    let mut nonce = [0u8; NONCE];
    rng.fill_bytes(&mut nonce);
    let ct = BackupKey::derive(root)?
        .cipher()
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: payload, aad: &aad(&head) })
        .map_err(|_| CryptoError::Unsupported("backup payload too large".into()))?;
    let mut out = head;
    out.reserve(NONCE + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a backup file under `root`: its authenticated header and payload.
/// [`CryptoError::Malformed`] if it is not a backup file, [`CryptoError::Authentication`] if it
/// was sealed under another root key or altered.
pub fn open(root: &RootKey, file: &[u8]) -> Result<(BackupHeader, Zeroizing<Vec<u8>>), CryptoError> {
    let (header, len) = read_header(file)?;
    let rest = file.get(len..).ok_or(CryptoError::Malformed)?;
    if rest.len() < NONCE + TAG {
        return Err(CryptoError::Malformed);
    }
    if header.root_generation != root.generation() {
        return Err(CryptoError::Authentication);
    }
    let (nonce, ct) = rest.split_at(NONCE);
    let payload = BackupKey::derive(root)?
        .cipher()
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad(&file[..len]) })
        .map_err(|_| CryptoError::Authentication)?;
    Ok((header, Zeroizing::new(payload)))
}

#[cfg(test)]
mod tests {
    use rand::rngs::OsRng;

    use super::*;

    fn header() -> BackupHeader {
        BackupHeader {
            root_generation: 1,
            cluster_id: "keyraft-dev".into(),
            region: "us-east-1".into(),
            applied_index: 42,
            created_ms: 1_700_000_000_000,
            keys: 3,
        }
    }

    #[test]
    fn round_trip() {
        let root = RootKey::generate(&mut OsRng, 1);
        let file = seal(&root, &header(), b"state bytes", &mut OsRng).unwrap();
        assert_eq!(&file[..4], MAGIC);
        let (h, payload) = open(&root, &file).unwrap();
        assert_eq!(h, header());
        assert_eq!(payload.as_slice(), b"state bytes");
        assert_eq!(read_header(&file).unwrap().0, header());
        // An empty payload is a valid backup too.
        let empty = seal(&root, &header(), b"", &mut OsRng).unwrap();
        assert_eq!(open(&root, &empty).unwrap().1.len(), 0);
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let root = RootKey::generate(&mut OsRng, 1);
        let file = seal(&root, &header(), b"state bytes", &mut OsRng).unwrap();
        let (_, header_len) = read_header(&file).unwrap();
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            let e = open(&root, &bad).err();
            assert!(e.is_some(), "byte {i} changed undetected");
            if i >= 4 + 1 + 4 + 2 + 11 + 1 + 9 && i < header_len {
                // Numbers in the header (index, time, count) parse, then fail authentication.
                assert_eq!(e, Some(CryptoError::Authentication), "byte {i}");
            }
        }
        // A truncated file, an appended byte, no file.
        assert!(open(&root, &file[..file.len() - 1]).is_err());
        let mut longer = file.clone();
        longer.push(0);
        assert!(open(&root, &longer).is_err());
        assert_eq!(open(&root, b"").err(), Some(CryptoError::Malformed));
        assert_eq!(open(&root, &file[..header_len + 20]).err(), Some(CryptoError::Malformed));
    }

    #[test]
    fn another_root_key_cannot_open_it() {
        let root = RootKey::generate(&mut OsRng, 1);
        let file = seal(&root, &header(), b"state bytes", &mut OsRng).unwrap();
        let other = RootKey::generate(&mut OsRng, 1);
        assert_eq!(open(&other, &file).err(), Some(CryptoError::Authentication));
        let next_generation = RootKey::from_slice(&[0u8; 32], 2).unwrap();
        assert_eq!(open(&next_generation, &file).err(), Some(CryptoError::Authentication));
        assert!(seal(&next_generation, &header(), b"x", &mut OsRng).is_err());
    }

    #[test]
    fn the_key_is_derived_not_the_root_key_itself() {
        let root = RootKey::from_slice(&[7u8; 32], 1).unwrap();
        let derived = BackupKey::derive(&root).unwrap();
        assert_ne!(derived.0, [7u8; 32]);
        // Deterministic: the same root key opens its backups after a restart.
        assert_eq!(derived.0, BackupKey::derive(&root).unwrap().0);
    }
}
