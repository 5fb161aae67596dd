//! Logical sector sizes: 512 bytes on most disks, 4096 bytes on "4Kn" disks (some NVMe
//! drives and USB-attached disks). Partition tables count in logical sectors and Linux
//! refuses a FAT whose sectors are smaller than the device's, so a disk is written for the
//! sector size it really has.

use std::path::Path;

use crate::error::InstallError;
use crate::Result;

/// The logical sector sizes this crate writes disks for.
pub const SECTOR_SIZES: [u64; 2] = [512, 4096];

/// The logical sector size of `disk` when it is a block device (`BLKSSZGET`); `None` for
/// anything else (an image file, or a path that does not exist yet).
pub fn device_sector_size(disk: &Path) -> std::io::Result<Option<u64>> {
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::io::AsRawFd;
    let is_block = std::fs::metadata(disk).is_ok_and(|m| m.file_type().is_block_device());
    if !is_block {
        return Ok(None);
    }
    let file = std::fs::File::open(disk)?;
    let mut size: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which points at `size`.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::BLKSSZGET, &mut size) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Some(size as u64))
}

/// The sector size to write `disk` for: a block device's own, otherwise `requested`
/// (512 when not given). `requested` must be 512 or 4096, and a block device must not be
/// asked for a size it does not have.
pub(crate) fn sector_size_for(disk: &Path, requested: Option<u64>) -> Result<u64> {
    let unsupported = |message: String| InstallError::SectorSize {
        disk: disk.to_path_buf(),
        message,
    };
    if let Some(size) = requested {
        if !SECTOR_SIZES.contains(&size) {
            return Err(unsupported(format!(
                "{size} bytes was asked for; disks are written with 512- or 4096-byte sectors"
            )));
        }
    }
    let device = device_sector_size(disk)
        .map_err(InstallError::io("reading the logical sector size of", disk))?;
    match (device, requested) {
        (Some(device), _) if !SECTOR_SIZES.contains(&device) => Err(unsupported(format!(
            "the device has {device}-byte logical sectors; only disks with 512- or 4096-byte \
             sectors can be installed to"
        ))),
        (Some(device), Some(requested)) if requested != device => Err(unsupported(format!(
            "the device has {device}-byte logical sectors, not {requested}; a sector size is \
             only chosen for image files (leave it out for devices)"
        ))),
        (Some(device), _) => Ok(device),
        (None, requested) => Ok(requested.unwrap_or(512)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_files_default_to_512_and_take_4096() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("disk.img");
        assert_eq!(sector_size_for(&file, None).unwrap(), 512);
        assert_eq!(sector_size_for(&file, Some(4096)).unwrap(), 4096);
        std::fs::write(&file, b"").unwrap();
        assert_eq!(sector_size_for(&file, Some(512)).unwrap(), 512);
    }

    #[test]
    fn other_sector_sizes_are_refused_with_the_ones_supported() {
        let err = sector_size_for(Path::new("disk.img"), Some(1024)).unwrap_err();
        assert!(matches!(err, InstallError::SectorSize { .. }));
        let message = err.to_string();
        assert!(message.contains("1024"), "{message}");
        assert!(message.contains("512- or 4096-byte"), "{message}");
    }

    #[test]
    fn files_are_not_block_devices() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(device_sector_size(dir.path()).unwrap(), None);
        assert_eq!(
            device_sector_size(&dir.path().join("missing")).unwrap(),
            None
        );
    }
}
