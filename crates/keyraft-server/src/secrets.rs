//! Root key files and dev credentials.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use keyraft_crypto::transport::TransportKey;
use keyraft_crypto::RootKey;
use rand::rngs::OsRng;
use rand::Rng;

/// Reads a root key file: 64 hex digits (generation 1).
pub fn read_root_key(path: &Path) -> anyhow::Result<RootKey> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading root key file {}", path.display()))?,
    );
    let bytes = zeroize::Zeroizing::new(
        hex::decode(text.trim()).with_context(|| format!("root key file {} is not hex", path.display()))?,
    );
    RootKey::from_slice(&bytes, 1).map_err(|e| anyhow::anyhow!("root key file {}: {e}", path.display()))
}

/// Creates a root key file (mode 0600) unless it exists.
pub fn ensure_root_key(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let key = RootKey::generate(&mut OsRng, 1);
    write_secret(path, key.to_hex().as_bytes())
}

/// Reads a transport key file: 64 hex digits.
pub fn read_transport_key(path: &Path) -> anyhow::Result<TransportKey> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading transport key file {}", path.display()))?,
    );
    let bytes = zeroize::Zeroizing::new(
        hex::decode(text.trim()).with_context(|| format!("transport key file {} is not hex", path.display()))?,
    );
    TransportKey::from_slice(&bytes).map_err(|e| anyhow::anyhow!("transport key file {}: {e}", path.display()))
}

/// Creates a transport key file (mode 0600) unless it exists; returns the key.
pub fn ensure_transport_key(path: &Path) -> anyhow::Result<TransportKey> {
    if !path.exists() {
        let key = TransportKey::generate(&mut OsRng).map_err(|e| anyhow::anyhow!("{e}"))?;
        write_secret(path, key.to_hex().as_bytes())?;
    }
    read_transport_key(path)
}

fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// An AWS-style access key id: `AKIA` + 16 uppercase letters and digits.
pub fn new_access_key_id() -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut s = String::from("AKIA");
    for _ in 0..16 {
        s.push(A[OsRng.gen_range(0..A.len())] as char);
    }
    s
}

/// A 40-character secret access key.
pub fn new_secret_access_key() -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..40).map(|_| A[OsRng.gen_range(0..A.len())] as char).collect()
}
