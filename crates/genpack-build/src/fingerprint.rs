//! Fingerprints of project folders (`files/`): what each entry is, its mode and the SHA-256
//! of its content. Digests are remembered between builds and reused while a file's size,
//! modification time and inode are unchanged (like `git status`), so checking an unchanged
//! folder reads no file content.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::error::{BuildError, Result};
use crate::fsutil::file_digest;

/// A file's digest and what it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedDigest {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Inode number.
    pub ino: u64,
    /// Hex SHA-256 of the content.
    pub digest: String,
}

/// Digests of an earlier fingerprint, by relative path.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DigestCache {
    /// When the digests were taken, nanoseconds since the epoch. A file modified less than
    /// [`RACY_NS`] before this may have changed again within the same timestamp tick, so its
    /// digest is not reused.
    pub taken_ns: i128,
    /// The digests.
    pub files: BTreeMap<String, CachedDigest>,
}

/// See [`DigestCache::taken_ns`].
pub const RACY_NS: i128 = 2_000_000_000;

/// The fingerprint of a folder: relative path -> `d MODE`, `f MODE SHA256`, `l TARGET` or
/// `c|b|p|s MODE RDEV`. Owners are not part of it: project files go in as root.
pub type Fingerprint = BTreeMap<String, String>;

/// Fingerprints the tree at `root` (an empty fingerprint when it does not exist), reusing the
/// digests in `cache` where the file is unchanged. Returns the fingerprint, the digests to keep
/// for next time and the number of files whose content was read.
pub fn fingerprint(root: &Path, cache: &DigestCache) -> Result<(Fingerprint, DigestCache, usize)> {
    let taken_ns = now_ns();
    let mut out = Fingerprint::new();
    let mut kept = DigestCache {
        taken_ns,
        files: BTreeMap::new(),
    };
    let mut read = 0;
    if std::fs::symlink_metadata(root).is_err() {
        return Ok((out, kept, 0));
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(BuildError::io("reading directory", &dir))?;
        for entry in entries {
            let entry = entry.map_err(BuildError::io("reading directory", &dir))?;
            let path = entry.path();
            let meta =
                std::fs::symlink_metadata(&path).map_err(BuildError::io("reading", &path))?;
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let mode = meta.mode() & 0o7777;
            let kind = meta.file_type();
            let description = if kind.is_dir() {
                stack.push(path.clone());
                format!("d {mode:o}")
            } else if kind.is_symlink() {
                let target =
                    std::fs::read_link(&path).map_err(BuildError::io("reading link", &path))?;
                format!("l {}", target.display())
            } else if kind.is_file() {
                let mtime_ns = meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128;
                let reusable = cache.files.get(&rel).filter(|c| {
                    c.size == meta.len()
                        && c.mtime_ns == mtime_ns
                        && c.ino == meta.ino()
                        && mtime_ns < cache.taken_ns - RACY_NS
                });
                let digest = match reusable {
                    Some(cached) => cached.digest.clone(),
                    None => {
                        read += 1;
                        file_digest(&path)?
                    }
                };
                kept.files.insert(
                    rel.clone(),
                    CachedDigest {
                        size: meta.len(),
                        mtime_ns,
                        ino: meta.ino(),
                        digest: digest.clone(),
                    },
                );
                format!("f {mode:o} {digest}")
            } else {
                let letter = if kind.is_char_device() {
                    'c'
                } else if kind.is_block_device() {
                    'b'
                } else if kind.is_fifo() {
                    'p'
                } else {
                    's'
                };
                format!("{letter} {mode:o} {}", meta.rdev())
            };
            out.insert(rel, description);
        }
    }
    Ok((out, kept, read))
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn content_and_mode_count_but_unchanged_files_are_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("files");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/motd"), "hello\n").unwrap();
        std::os::unix::fs::symlink("motd", root.join("etc/issue")).unwrap();
        // Old enough for the digest to be reused.
        let old = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        filetime::set_symlink_file_times(root.join("etc/motd"), old, old).unwrap();

        let (a, cache, read) = fingerprint(&root, &DigestCache::default()).unwrap();
        assert_eq!(read, 1);
        assert_eq!(a["etc"], "d 755");
        assert_eq!(a["etc/issue"], "l motd");
        assert!(
            a["etc/motd"].starts_with("f 644 5891b5b5"),
            "{}",
            a["etc/motd"]
        );

        let (b, cache, read) = fingerprint(&root, &cache).unwrap();
        assert_eq!((a.clone(), read), (b, 0), "unchanged file read again");

        std::fs::write(root.join("etc/motd"), "world\n").unwrap();
        let (c, cache, read) = fingerprint(&root, &cache).unwrap();
        assert_eq!(read, 1);
        assert_ne!(a["etc/motd"], c["etc/motd"]);

        std::fs::set_permissions(
            root.join("etc/motd"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let (d, _, _) = fingerprint(&root, &cache).unwrap();
        assert!(d["etc/motd"].starts_with("f 600 "));

        let (none, _, _) = fingerprint(&dir.path().join("absent"), &cache).unwrap();
        assert!(none.is_empty());
    }
}
