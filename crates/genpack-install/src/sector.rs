//! Logical sector sizes: 512 bytes on most disks, 4096 bytes on "4Kn" disks (some NVMe
//! drives and USB-attached disks). Partition tables count in logical sectors and Linux
//! refuses a FAT whose sectors are smaller than the device's, so a disk image is laid out for
//! the sector size of the drive it is meant for ([`crate::drive`] passes the drive's own).

use std::path::Path;

use crate::error::InstallError;
use crate::Result;

/// The logical sector sizes this crate writes disks for.
pub const SECTOR_SIZES: [u64; 2] = [512, 4096];

/// The sector size to lay `disk` out for: `requested`, 512 when not given. It must be 512 or
/// 4096.
pub(crate) fn sector_size_for(disk: &Path, requested: Option<u64>) -> Result<u64> {
    let size = requested.unwrap_or(512);
    if SECTOR_SIZES.contains(&size) {
        return Ok(size);
    }
    Err(InstallError::SectorSize {
        disk: disk.to_path_buf(),
        message: format!(
            "{size} bytes was asked for; disks are written with 512- or 4096-byte sectors"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_files_default_to_512_and_take_4096() {
        let file = Path::new("disk.img");
        assert_eq!(sector_size_for(file, None).unwrap(), 512);
        assert_eq!(sector_size_for(file, Some(4096)).unwrap(), 4096);
        assert_eq!(sector_size_for(file, Some(512)).unwrap(), 512);
    }

    #[test]
    fn other_sector_sizes_are_refused_with_the_ones_supported() {
        let err = sector_size_for(Path::new("disk.img"), Some(1024)).unwrap_err();
        assert!(matches!(err, InstallError::SectorSize { .. }));
        let message = err.to_string();
        assert!(message.contains("1024"), "{message}");
        assert!(message.contains("512- or 4096-byte"), "{message}");
    }
}
