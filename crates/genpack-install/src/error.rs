//! Errors of installing an image.

use std::path::PathBuf;

/// Why an installation failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The system image is not a usable genpack image.
    #[error("{} cannot be installed: {reason}", image.display())]
    BadImage {
        /// The image.
        image: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The target is too small.
    #[error("{} is {have} bytes but at least {need} bytes are needed; use a larger disk or a new file", disk.display())]
    TooSmall {
        /// The target.
        disk: PathBuf,
        /// Its size.
        have: u64,
        /// The minimum size.
        need: u64,
    },
    /// A file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the partition table failed.
    #[error("writing the partition table of {}: {message}", disk.display())]
    PartitionTable {
        /// The target.
        disk: PathBuf,
        /// What the GPT writer reported.
        message: String,
    },
    /// grub-mkimage failed or is missing.
    #[error("making the GRUB loader failed: {0} (on Debian: apt-get install grub-efi-amd64-bin grub-pc-bin grub-common)")]
    Grub(String),
    /// An image file does not fit in FAT32.
    #[error("{} is {size} bytes; a FAT32 boot partition holds files up to 4 GiB - 1", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The logical sector size asked for, or the device's, is not one disks are written for.
    #[error("cannot install to {}: {message}", disk.display())]
    SectorSize {
        /// The target.
        disk: PathBuf,
        /// What is wrong and what to do instead.
        message: String,
    },
    /// The requested layout does not work for this disk or image.
    #[error("cannot lay out {}: {message}", disk.display())]
    Layout {
        /// The target.
        disk: PathBuf,
        /// What is wrong and what to use instead.
        message: String,
    },
    /// An external tool (mkfs.btrfs, xorriso) failed or is missing.
    #[error("{program} failed while writing {}: {message} ({hint})", target.display())]
    Tool {
        /// The program.
        program: &'static str,
        /// The file being written.
        target: PathBuf,
        /// Its error output.
        message: String,
        /// What to do next.
        hint: &'static str,
    },
    /// A boot loader file is unusable (too large for its place, or malformed).
    #[error("boot loader {name}: {message}")]
    Loader {
        /// The loader file, e.g. `core.img`.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The target is in use by the running system.
    #[error("{} is in use: {reason}", disk.display())]
    InUse {
        /// The target.
        disk: PathBuf,
        /// What uses it and what to do.
        reason: String,
    },
    /// A drive was given where an image file is written.
    #[error("{} is a drive, not an image file; drives are written with `genpack install IMAGE --disk DEVICE` (exclusively, verified)", disk.display())]
    NotAFile {
        /// The drive.
        disk: PathBuf,
    },
    /// Opening, writing or verifying a drive failed, or the drive may not be written.
    #[error(transparent)]
    Drive(#[from] genpack_drive::FlashError),
    /// Listing or probing drives failed.
    #[error(transparent)]
    Drives(#[from] genpack_drive::DriveError),
    /// The user cancelled before the drive was written.
    #[error("{}: {message}", device.display())]
    Cancelled {
        /// The drive.
        device: PathBuf,
        /// What was done and in what state the drive is.
        message: String,
    },
    /// Writing the ZIP archive failed.
    #[error("writing the ZIP archive {}: {message}", archive.display())]
    Zip {
        /// The archive.
        archive: PathBuf,
        /// What the ZIP writer reported.
        message: String,
    },
}

impl InstallError {
    /// What the user can do about it, when the message does not say so already.
    pub fn hint(&self) -> Option<&'static str> {
        use genpack_drive::FlashError;
        match self {
            InstallError::TooSmall { .. } => {
                Some("use a larger drive, or for a new image file a larger size")
            }
            InstallError::FileTooLarge { .. } => {
                Some("choose a partition table (MBR or GPT), not a superfloppy")
            }
            InstallError::BadImage { .. } => Some("build the image with `genpack build` first"),
            InstallError::Io { .. } => Some("check the path, free space and permissions"),
            InstallError::PartitionTable { .. } => Some("check that the disk is writable"),
            InstallError::Drive(FlashError::Refused { .. }) | InstallError::NotAFile { .. } => {
                Some("`genpack install IMAGE --disk list` shows the drives that can be written")
            }
            InstallError::Drive(FlashError::Cancelled { .. }) => {
                Some("write the stick again, or restore it for everyday use")
            }
            _ => None,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| InstallError::Io {
            action,
            path,
            source,
        }
    }
}
