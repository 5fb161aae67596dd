//! Data disk files: sparse allocation, btrfs formatting, growth.

use std::fs::{self, File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Result, VmError};
use crate::firmware::find_program;

/// What [`allocate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Allocation {
    /// A new file was created and formatted with btrfs.
    CreatedBtrfs,
    /// A new file was created unformatted (mkfs.btrfs is not installed); the guest formats it
    /// or falls back to RAM.
    CreatedRaw,
    /// An existing file was grown; its contents are untouched.
    Grown,
    /// The file already had the requested size.
    Unchanged,
}

/// Creates the data disk `path` as a sparse file of `size_bytes` (btrfs-formatted when
/// mkfs.btrfs is available), or grows an existing one. Never shrinks.
///
/// A new file is prepared under a temporary name and renamed into place, so a failure leaves
/// no half-made disk behind.
pub fn allocate(path: &Path, size_bytes: u64) -> Result<Allocation> {
    if let Ok(meta) = fs::metadata(path) {
        let current = meta.len();
        if size_bytes < current {
            return Err(VmError::InvalidSpec(format!(
                "{} is {current} bytes; refusing to shrink it to {size_bytes}",
                path.display()
            )));
        }
        if size_bytes == current {
            return Ok(Allocation::Unchanged);
        }
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| VmError::io("cannot open", path, e))?;
        file.set_len(size_bytes)
            .map_err(|e| VmError::io("cannot grow", path, e))?;
        return Ok(Allocation::Grown);
    }

    if size_bytes < 1 << 20 {
        return Err(VmError::InvalidSpec(format!(
            "data disk size {size_bytes} bytes is too small (at least 1 MiB)"
        )));
    }
    let tmp = temp_name(path);
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| VmError::io("cannot create", &tmp, e))?;
        set_nocow(&file);
        file.set_len(size_bytes)
            .map_err(|e| VmError::io("cannot size", &tmp, e))?;
        drop(file);
        let formatted = format_btrfs(&tmp, size_bytes)?;
        fs::rename(&tmp, path).map_err(|e| VmError::io("cannot rename into", path, e))?;
        Ok(if formatted {
            Allocation::CreatedBtrfs
        } else {
            Allocation::CreatedRaw
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Below this size btrfs needs its mixed data/metadata mode (plain mode wants about 110 MiB).
const BTRFS_MIXED_BELOW: u64 = 1 << 30;

/// Formats `file` with btrfs; `false` when mkfs.btrfs is not installed.
fn format_btrfs(file: &Path, size_bytes: u64) -> Result<bool> {
    let Some(mkfs) = find_program("mkfs.btrfs") else {
        return Ok(false);
    };
    let mut command = Command::new(&mkfs);
    command.args(["-q", "-f", "-L", "data"]);
    if size_bytes < BTRFS_MIXED_BELOW {
        command.arg("--mixed");
    }
    let out = command
        .arg(file)
        .output()
        .map_err(|e| VmError::io("cannot run", &mkfs, e))?;
    if !out.status.success() {
        return Err(VmError::CommandFailed {
            program: format!("mkfs.btrfs {}", file.display()),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(true)
}

/// Marks a new, empty file no-copy-on-write when the host file system is btrfs (best effort:
/// other file systems do not know the flag).
fn set_nocow(file: &File) {
    const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
    const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
    const FS_NOCOW_FL: libc::c_long = 0x0080_0000;
    let fd = file.as_raw_fd();
    let mut flags: libc::c_long = 0;
    // SAFETY: fd is a valid open file and `flags` outlives both calls; the kernel reads and
    // writes one long.
    unsafe {
        if libc::ioctl(fd, FS_IOC_GETFLAGS as _, &mut flags) == 0 {
            flags |= FS_NOCOW_FL;
            libc::ioctl(fd, FS_IOC_SETFLAGS as _, &flags);
        }
    }
}

/// Parses a size such as `4G`, `512M`, `1T`, `1048576` (binary units) into bytes.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let bad = || VmError::InvalidSpec(format!("size {text:?}: expected e.g. 512M, 4G or 1T"));
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let shift = match unit
        .trim_end_matches(['i', 'B', 'b'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1 << shift).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn new_disk_is_sparse_and_existing_disk_only_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let outcome = allocate(&path, 256 << 20).unwrap();
        assert!(matches!(
            outcome,
            Allocation::CreatedBtrfs | Allocation::CreatedRaw
        ));
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 256 << 20);
        assert!(meta.blocks() * 512 < 64 << 20, "not sparse");
        if outcome == Allocation::CreatedBtrfs {
            let mut sb = vec![0u8; 8];
            use std::io::{Read, Seek, SeekFrom};
            let mut f = File::open(&path).unwrap();
            f.seek(SeekFrom::Start(0x10040)).unwrap();
            f.read_exact(&mut sb).unwrap();
            assert_eq!(&sb, b"_BHRfS_M");
        }
        assert_eq!(allocate(&path, 256 << 20).unwrap(), Allocation::Unchanged);
        assert_eq!(allocate(&path, 512 << 20).unwrap(), Allocation::Grown);
        assert!(allocate(&path, 1 << 20).is_err());
        assert_eq!(fs::metadata(&path).unwrap().len(), 512 << 20);
        // Only the disk itself is left in the folder.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("4X").is_err());
        assert!(parse_size("").is_err());
    }
}
