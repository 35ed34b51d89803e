//! `keyraft backup` and `keyraft restore`: an encrypted backup of a region through a node's
//! admin API (`GET /v1/backup`), written to a file (mode 0600), and its restore into a fresh
//! region (`POST /v1/restore`). The file format is `keyraft_crypto::backup` (format 1); the
//! service side is `keyraft_service::backup`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use keyraft_crypto::backup::BackupHeader;
use keyraft_service::backup::BackupSummary;

fn url(admin: &str, path: &str) -> String {
    format!("{}{path}", admin.trim_end_matches('/'))
}

/// What `keyraft backup` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub header: BackupHeader,
    pub bytes: u64,
}

impl Written {
    pub fn render(&self) -> String {
        format!(
            "backup of region {} (cluster {}): {} keys at applied index {}, {} bytes, written to {}\n",
            self.header.region,
            self.header.cluster_id,
            self.header.keys,
            self.header.applied_index,
            self.bytes,
            self.path.display()
        )
    }
}

/// Fetches a backup file from a node's admin URL.
pub async fn fetch(admin: &str) -> anyhow::Result<Vec<u8>> {
    let u = url(admin, "/v1/backup");
    Ok(crate::admin_client::AdminClient::global().get(&u).await?.ok(&u)?.to_vec())
}

/// `keyraft backup`: fetches a backup and writes it to `out` (mode 0600); refuses to replace an
/// existing file unless `force`. The file appears complete or not at all.
pub async fn backup(admin: &str, out: &Path, force: bool) -> anyhow::Result<Written> {
    if !force && out.exists() {
        anyhow::bail!("{} exists; pass --force to replace it", out.display());
    }
    let file = fetch(admin).await?;
    let (header, _) = keyraft_crypto::backup::read_header(&file)
        .map_err(|e| anyhow::anyhow!("{admin} did not answer a keyraft backup file: {e}"))?;
    write_file(out, &file, force)?;
    Ok(Written { path: out.to_owned(), header, bytes: file.len() as u64 })
}

/// Writes `bytes` to `path` with mode 0600 through a temporary file in the same directory
/// (fsynced, then linked or renamed into place).
pub fn write_file(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().with_context(|| format!("{} names no file", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| -> anyhow::Result<()> {
        let mut f = options.open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all().with_context(|| format!("syncing {}", tmp.display()))?;
        if force {
            std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
        } else {
            // A hard link fails if the target exists: no replacement, even in a race.
            std::fs::hard_link(&tmp, path).with_context(|| format!("creating {}", path.display()))?;
            std::fs::remove_file(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Posts a backup file to a node's admin URL for restore.
pub async fn post_restore(admin: &str, file: Vec<u8>) -> anyhow::Result<BackupSummary> {
    let u = url(admin, "/v1/restore");
    let answer = crate::admin_client::AdminClient::global().post(&u, "application/octet-stream", file).await?;
    answer.json(&u).context("the restore was refused")
}

/// `keyraft restore`: reads a backup file and restores it through `admin`.
pub async fn restore(admin: &str, input: &Path) -> anyhow::Result<BackupSummary> {
    let file = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    keyraft_crypto::backup::read_header(&file)
        .map_err(|e| anyhow::anyhow!("{} is not a keyraft backup file: {e}", input.display()))?;
    post_restore(admin, file).await
}

/// One line about a restore.
pub fn render_restore(s: &BackupSummary) -> String {
    format!(
        "restored region {} from a backup of cluster {} (applied index {}): {} keys, {} aliases, {} grants \
         ({} bytes)\n",
        s.region, s.cluster_id, s.applied_index, s.keys, s.aliases, s.grants, s.bytes
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_are_private_and_not_replaced_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("region.krbk");
        write_file(&path, b"one", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(write_file(&path, b"two", false).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_file(&path, b"two", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
