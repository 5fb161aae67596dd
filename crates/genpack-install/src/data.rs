//! The btrfs data partition: made with mkfs.btrfs in a sparse scratch file (optionally
//! holding the system image as `system`), then copied into the disk at the partition's
//! offset. No loop device and no mount.
//!
//! The scratch file gives back its space as it is copied, and on a disk file made just now
//! (all zeros) blocks of zeros are not written, so the disk stays sparse: a large image
//! on the data partition needs room for about one copy of itself, not two.

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
/// (it needs room for `system`). `disk_is_new` says the disk file was created for this
/// install and reads as zeros wherever nothing was written yet.
pub fn write_data_partition(
    disk: &Path,
    extent: Extent,
    label: &str,
    system: Option<&Path>,
    scratch: &Path,
    disk_is_new: bool,
) -> Result<()> {
    let fs_file = scratch.join("data.btrfs");
    let result = make_and_copy(disk, extent, label, system, scratch, &fs_file, disk_is_new);
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
    disk_is_new: bool,
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

    let source = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(fs_file)
        .map_err(InstallError::io("reading", fs_file))?;
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
    let zeros = if disk_is_new {
        Zeros::AlreadyThere
    } else {
        Zeros::Write
    };
    copy_data_extents(&source, &target, extent.offset, extent.size, zeros)
        .map_err(InstallError::io("writing the data partition of", disk))?;
    target
        .sync_all()
        .map_err(InstallError::io("flushing", disk))?;
    Ok(())
}

/// Whether the target already reads as zeros where the copy has nothing else to write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Zeros {
    AlreadyThere,
    Write,
}

/// Copies the allocated parts of the sparse `source` (of `len` bytes) to `target` at
/// `offset`; holes are skipped, and so are blocks of zeros when the target has them
/// already. Each copied piece of `source` is given back to its file system at once.
fn copy_data_extents(
    source: &File,
    target: &File,
    offset: u64,
    len: u64,
    zeros: Zeros,
) -> std::io::Result<()> {
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
            let all_zero = buf[..n].iter().all(|&b| b == 0);
            if !(all_zero && zeros == Zeros::AlreadyThere) {
                target.write_all_at(&buf[..n], offset + at)?;
            }
            give_back(source, at, n as u64);
            at += n as u64;
        }
        pos = hole;
    }
    Ok(())
}

/// Frees the blocks of `file` in `at..at + len` (the file keeps its size). A file system
/// that cannot punch holes just keeps them until the scratch file is removed.
fn give_back(file: &File, at: u64, len: u64) {
    // SAFETY: fallocate on a file descriptor we own; no memory is passed.
    unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            at as libc::off_t,
            len as libc::off_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    const PIECE: u64 = 4 * MIB;

    /// A sparse file of `pieces` pieces: `data` pieces filled with a pattern, the rest
    /// written as zeros (as mkfs.btrfs writes the holes of the files it copies).
    fn scratch_file(dir: &Path, pieces: u64, data: &[u64]) -> File {
        let path = dir.join("scratch");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .unwrap();
        for piece in 0..pieces {
            let byte = if data.contains(&piece) { 0x5a } else { 0 };
            file.write_all_at(&vec![byte; PIECE as usize], piece * PIECE)
                .unwrap();
        }
        file
    }

    fn allocated(file: &File) -> u64 {
        file.metadata().unwrap().blocks() * 512
    }

    #[test]
    fn a_new_disk_gets_only_the_data_and_the_scratch_file_gives_its_space_back() {
        let dir = tempfile::tempdir().unwrap();
        let source = scratch_file(dir.path(), 6, &[1, 4]);
        let disk = File::create(dir.path().join("disk.img")).unwrap();
        disk.set_len(8 * PIECE).unwrap();

        copy_data_extents(&source, &disk, PIECE, 6 * PIECE, Zeros::AlreadyThere).unwrap();

        let written = std::fs::read(dir.path().join("disk.img")).unwrap();
        for piece in 0..8u64 {
            let expected = if [2, 5].contains(&piece) { 0x5a } else { 0 };
            let range = (piece * PIECE) as usize..((piece + 1) * PIECE) as usize;
            assert!(
                written[range].iter().all(|&b| b == expected),
                "piece {piece} of the disk"
            );
        }
        assert!(
            allocated(&disk) <= 3 * PIECE,
            "the disk holds {} bytes, more than its two pieces of data",
            allocated(&disk)
        );
        assert!(
            allocated(&source) < PIECE,
            "the scratch file still holds {} bytes",
            allocated(&source)
        );
    }

    #[test]
    fn zeros_overwrite_what_an_old_disk_had() {
        let dir = tempfile::tempdir().unwrap();
        let source = scratch_file(dir.path(), 3, &[0]);
        let path = dir.path().join("old.img");
        std::fs::write(&path, vec![0xffu8; (3 * PIECE) as usize]).unwrap();
        let disk = std::fs::OpenOptions::new().write(true).open(&path).unwrap();

        copy_data_extents(&source, &disk, 0, 3 * PIECE, Zeros::Write).unwrap();

        let written = std::fs::read(&path).unwrap();
        assert!(written[..PIECE as usize].iter().all(|&b| b == 0x5a));
        assert!(
            written[PIECE as usize..].iter().all(|&b| b == 0),
            "old bytes survived where the new file system has zeros"
        );
    }
}
