//! The btrfs data partition: made with mkfs.btrfs in a sparse scratch file (optionally
//! holding the system image as `system`), then copied into the disk at the partition's
//! offset. No loop device and no mount.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::Command;

use crate::error::InstallError;
use crate::layout::{Extent, MIB};
use crate::Result;

/// Writes a btrfs labelled `label` over `extent` of `disk`. With `system`, that file is put
/// into the new file system as `/system`. `scratch` is a directory for temporary files
/// (it needs room for `system`).
pub fn write_data_partition(
    disk: &Path,
    extent: Extent,
    label: &str,
    system: Option<&Path>,
    scratch: &Path,
) -> Result<()> {
    let fs_file = scratch.join("data.btrfs");
    let result = make_and_copy(disk, extent, label, system, scratch, &fs_file);
    let _ = std::fs::remove_file(&fs_file);
    let _ = std::fs::remove_dir_all(scratch.join("data-root"));
    result
}

fn make_and_copy(
    disk: &Path,
    extent: Extent,
    label: &str,
    system: Option<&Path>,
    scratch: &Path,
    fs_file: &Path,
) -> Result<()> {
    let file = File::create(fs_file).map_err(InstallError::io("creating", fs_file))?;
    file.set_len(extent.size)
        .map_err(InstallError::io("sizing", fs_file))?;
    drop(file);

    let mut command = Command::new("mkfs.btrfs");
    command.args(["-q", "-f", "-L", label]);
    if let Some(system) = system {
        let root = scratch.join("data-root");
        std::fs::create_dir_all(&root).map_err(InstallError::io("creating", &root))?;
        let target = root.join("system");
        if std::fs::hard_link(system, &target).is_err() {
            std::fs::copy(system, &target).map_err(InstallError::io("copying", system))?;
        }
        command.arg("--rootdir").arg(&root);
    }
    let output = command
        .arg(fs_file)
        .output()
        .map_err(|e| InstallError::Tool {
            program: "mkfs.btrfs",
            target: disk.to_path_buf(),
            message: e.to_string(),
            hint: "install btrfs-progs",
        })?;
    if !output.status.success() {
        return Err(InstallError::Tool {
            program: "mkfs.btrfs",
            target: disk.to_path_buf(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            hint: "check that the data partition is large enough and btrfs-progs is installed",
        });
    }

    let source = File::open(fs_file).map_err(InstallError::io("reading", fs_file))?;
    let made = source
        .metadata()
        .map_err(InstallError::io("reading", fs_file))?
        .len();
    if made > extent.size {
        // mkfs.btrfs --rootdir grows its target when the files do not fit.
        return Err(InstallError::Layout {
            disk: disk.to_path_buf(),
            message: format!(
                "the data partition is {} bytes but its files need {made}; use a larger disk",
                extent.size
            ),
        });
    }
    let target = std::fs::OpenOptions::new()
        .write(true)
        .open(disk)
        .map_err(InstallError::io("opening", disk))?;
    // Old signatures at the start of the partition must not survive next to the new ones.
    target
        .write_all_at(&vec![0u8; MIB.min(extent.size) as usize], extent.offset)
        .map_err(InstallError::io("clearing the data partition of", disk))?;
    copy_data_extents(&source, &target, extent.offset, extent.size)
        .map_err(InstallError::io("writing the data partition of", disk))?;
    target
        .sync_all()
        .map_err(InstallError::io("flushing", disk))?;
    Ok(())
}

/// Copies the allocated parts of the sparse `source` (of `len` bytes) to `target` at
/// `offset`; holes are skipped.
fn copy_data_extents(source: &File, target: &File, offset: u64, len: u64) -> std::io::Result<()> {
    let fd = source.as_raw_fd();
    let mut buf = vec![0u8; 4 * MIB as usize];
    let mut pos: u64 = 0;
    while pos < len {
        // SAFETY: lseek on a file descriptor we own; no memory is passed.
        let data = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::ENXIO) {
                break; // no data after pos
            }
            return Err(error);
        }
        let data = data as u64;
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data as libc::off_t, libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let hole = (hole as u64).min(len);
        let mut at = data;
        while at < hole {
            let n = ((hole - at) as usize).min(buf.len());
            source.read_exact_at(&mut buf[..n], at)?;
            target.write_all_at(&buf[..n], offset + at)?;
            at += n as u64;
        }
        pos = hole;
    }
    Ok(())
}
