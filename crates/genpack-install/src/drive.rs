//! Images to drives: the one way both the `genpack` command and the studio write a USB stick
//! or disk, and restore one for everyday use.
//!
//! [`write_to_drive`] opens the drive the user confirmed (as it was shown to them: path, size,
//! medium, model), lays the image out as a disk image for that drive (its size and sector
//! size) in a scratch folder, writes it with the partition table last, reads it back uncached
//! and compares. [`restore_drive`] puts one FAT32 partition over the whole drive, its table
//! written last too.
//!
//! The drive is held open exclusively (`O_EXCL`, through UDisks2 when not root) from the
//! moment its confirmation is checked until the write is verified, so nothing can mount it
//! in between.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use genpack_drive::{Confirmation, FlashOptions, Flasher, Image, Phase, Progress};
use serde::Serialize;

use crate::disk::{install_to_disk_image, InstallOptions, InstallReport};
use crate::error::InstallError;
use crate::fat::{format_fat32, VolumeId};
use crate::label::VolumeLabel;
use crate::layout::{PartitionTable, FAT32_MAX_FILE, MIB};
use crate::sector::SECTOR_SIZES;
use crate::table::{mbr_sector, MbrEntry, MBR_TYPE_FAT32_LBA};
use crate::Result;

/// What to write where: an image, laid out with `options`, to the drive the user confirmed.
#[derive(Debug, Clone)]
pub struct DriveWrite {
    /// The genpack image (`.squashfs`).
    pub image: PathBuf,
    /// The drive as the user saw and confirmed it.
    pub drive: Confirmation,
    /// system.ini, label, partition table, data partition. The size and the sector size come
    /// from the drive, so `size` and `sector_size` must be left `None`.
    pub options: InstallOptions,
}

/// One progress report of a write to a drive.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriveProgress {
    /// Laying the image out as a disk image for the drive (boot loaders, FAT, system.img).
    Layout,
    /// Writing to or reading back from the drive.
    Drive {
        /// Preparing, writing, verifying or finishing.
        phase: Phase,
        /// Bytes done in this phase.
        bytes_done: u64,
        /// Bytes of this phase.
        bytes_total: u64,
        /// Recent speed.
        bytes_per_second: f64,
        /// Seconds left in this phase at the recent speed.
        eta_secs: Option<f64>,
    },
}

impl From<&Progress> for DriveProgress {
    fn from(progress: &Progress) -> Self {
        DriveProgress::Drive {
            phase: progress.phase,
            bytes_done: progress.bytes_done,
            bytes_total: progress.bytes_total,
            bytes_per_second: progress.bytes_per_second,
            eta_secs: progress.eta.map(|eta| eta.as_secs_f64()),
        }
    }
}

/// Where progress goes; called on the thread doing the work.
pub type DriveProgressSink = Box<dyn FnMut(&DriveProgress) + Send>;

/// Cancel flag and progress sink of a write.
#[derive(Default)]
pub struct DriveControl {
    /// Set to `true` (from any thread) to stop at the next step or 4 MiB block.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Receives a [`DriveProgress`] at each step and block.
    pub progress: Option<DriveProgressSink>,
}

impl DriveControl {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    fn report(&mut self, event: DriveProgress) {
        if let Some(sink) = self.progress.as_mut() {
            sink(&event);
        }
    }
}

/// What a verified write did.
#[derive(Debug, Clone, Serialize)]
pub struct DriveWriteReport {
    /// The drive, for people: `"SanDisk Ultra, 14.9 GiB (/dev/sdb)"`.
    pub drive: String,
    /// Its device node.
    pub device: PathBuf,
    /// The partition table: `mbr`, `gpt`, or `none` for a superfloppy.
    pub table: &'static str,
    /// Whether GRUB for BIOS was written (else UEFI only).
    pub bios_boot: bool,
    /// The boot partition's volume id (`ABCD-1234`).
    pub volume_id: String,
    /// Bytes of the disk image written (the rest of the drive is left as it was).
    pub image_bytes: u64,
    /// Bytes read back and compared.
    pub bytes_verified: u64,
    /// Time spent writing, and reading back.
    pub write_seconds: f64,
    /// Time spent reading back and comparing.
    pub verify_seconds: f64,
    /// Where everything went on the drive.
    #[serde(skip)]
    pub layout: InstallReport,
}

/// Lays `request.image` out for the confirmed drive and writes it there, partition table
/// last, verified by reading back.
///
/// Fails without writing anything when the drive is not the one confirmed any more, may not
/// be written ([`genpack_drive::Refusal`]), is held by something else, or the image cannot
/// be laid out for it. A failure, a mismatch or a cancel during the write leaves the drive
/// without a partition table, never half-written and bootable-looking.
pub fn write_to_drive(request: &DriveWrite, mut control: DriveControl) -> Result<DriveWriteReport> {
    if request.options.size.is_some() || request.options.sector_size.is_some() {
        return Err(InstallError::Layout {
            disk: request.drive.path().to_path_buf(),
            message: "a drive is written for its own size and sector size; leave them unset".into(),
        });
    }
    let mut flasher = Flasher::open(request.drive.path(), request.drive.clone())?;
    let drive = flasher.drive().clone();
    let sector_size = u64::from(drive.logical_sector_size);
    if !SECTOR_SIZES.contains(&sector_size) {
        return Err(InstallError::SectorSize {
            disk: drive.path.clone(),
            message: format!(
                "the drive has {sector_size}-byte logical sectors; only drives with 512- or \
                 4096-byte sectors can be written"
            ),
        });
    }

    control.report(DriveProgress::Layout);
    let scratch = scratch_dir()?;
    let disk = scratch.path().join("disk.img");
    let image_size = std::fs::metadata(&request.image)
        .map_err(InstallError::io("reading", &request.image))?
        .len();
    let options = InstallOptions {
        size: needs_whole_drive(&request.options, image_size, drive.size, sector_size)
            .then_some(drive.size),
        sector_size: Some(sector_size),
        ..request.options.clone()
    };
    let layout = install_to_disk_image(&request.image, &disk, &options)?;
    if control.cancelled() {
        return Err(InstallError::Cancelled {
            device: drive.path.clone(),
            message: "cancelled before writing; the drive was not touched".into(),
        });
    }

    let image = Image::open(&disk)?;
    let mut sink = control.progress.take();
    let flash_options = FlashOptions {
        cancel: control.cancel.clone(),
        progress: Some(Box::new(move |progress: &Progress| {
            if let Some(sink) = sink.as_mut() {
                sink(&DriveProgress::from(progress));
            }
        })),
        ..FlashOptions::default()
    };
    let written = flasher.write_image(&image, flash_options)?;
    Ok(DriveWriteReport {
        drive: drive.description(),
        device: written.device,
        table: match layout.table {
            Some(PartitionTable::Mbr) => "mbr",
            Some(PartitionTable::Gpt) => "gpt",
            None => "none",
        },
        bios_boot: layout.bios_boot,
        volume_id: layout.volume_id.to_string(),
        image_bytes: written.image_len,
        bytes_verified: written.bytes_verified,
        write_seconds: written.write_time.as_secs_f64(),
        verify_seconds: written.verify_time.as_secs_f64(),
        layout: InstallReport {
            disk: drive.path.clone(),
            ..layout
        },
    })
}

/// Whether the disk image must be as large as the drive: a data partition fills the drive
/// (images of 4 GiB or more always get one), and GPT keeps a copy of itself at the drive's
/// end. Otherwise it is just large enough and the rest of the drive is not written.
fn needs_whole_drive(
    options: &InstallOptions,
    image_size: u64,
    drive_size: u64,
    sector_size: u64,
) -> bool {
    options.data_partition
        || image_size > FAT32_MAX_FILE
        || options.layout.table_for(drive_size, sector_size) == Some(PartitionTable::Gpt)
}

/// A private folder for the disk image being laid out, in the user's cache (a stick's image
/// can be large; `/tmp` is often a small tmpfs).
fn scratch_dir() -> Result<tempfile::TempDir> {
    let parent = genpack_util::cache_root().join("flash");
    std::fs::create_dir_all(&parent).map_err(InstallError::io("creating", &parent))?;
    tempfile::Builder::new()
        .prefix("disk-")
        .tempdir_in(&parent)
        .map_err(InstallError::io("creating a folder in", parent))
}

/// What [`restore_drive`] made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// The drive, for people.
    pub drive: String,
    /// Where the partition starts, in bytes (1 MiB).
    pub partition_start: u64,
    /// Its size in bytes.
    pub partition_size: u64,
    /// The FAT volume id (`ABCD-1234`).
    pub volume_id: String,
    /// The FAT volume label.
    pub label: String,
}

/// The label of a restored stick.
pub const RESTORE_LABEL: &str = "USB";

/// Smallest drive that can be restored (FAT32 needs 65525 clusters).
const RESTORE_MIN: u64 = 64 * MIB;

/// Puts the confirmed drive back to everyday use: an MBR with one FAT32 partition (type 0x0c)
/// from 1 MiB to the end (at most 2 TiB with 512-byte sectors), labelled `USB`, with a fresh
/// volume id. The old partition tables at both ends are wiped first; the new MBR is written
/// last and read back. A failure leaves the drive without a partition table.
pub fn restore_drive(
    confirmation: &Confirmation,
    mut control: DriveControl,
) -> Result<RestoreReport> {
    let flasher = Flasher::open(confirmation.path(), confirmation.clone())?;
    let report = restore_opened(&flasher, &mut control);
    if report.is_err() {
        // Best effort: the error at hand matters more than a failure to scrub after it.
        let _ = flasher.scrub_head();
    }
    report
}

fn restore_opened(flasher: &Flasher, control: &mut DriveControl) -> Result<RestoreReport> {
    let device = flasher.drive().path.clone();
    let sector = flasher.sector_size();
    let start = MIB;
    let sectors = (flasher.size().saturating_sub(start) / sector).min(u64::from(u32::MAX));
    let size = sectors * sector;
    if size < RESTORE_MIN {
        return Err(InstallError::TooSmall {
            disk: device,
            have: flasher.size(),
            need: RESTORE_MIN + start,
        });
    }
    let bytes_per_sector = u16::try_from(sector).map_err(|_| InstallError::SectorSize {
        disk: device.clone(),
        message: format!("a FAT file system cannot have {sector}-byte sectors"),
    })?;
    let step = |phase, done, total| DriveProgress::Drive {
        phase,
        bytes_done: done,
        bytes_total: total,
        bytes_per_second: 0.0,
        eta_secs: None,
    };

    control.report(step(Phase::Preparing, 0, 3));
    flasher.zero(0, 2 * MIB)?;
    flasher.zero(flasher.size().saturating_sub(MIB), flasher.size())?;

    control.report(step(Phase::Writing, 1, 3));
    let volume_id = VolumeId::random().map_err(InstallError::io("reading", "/dev/urandom"))?;
    let label = VolumeLabel::known(RESTORE_LABEL);
    let mut stream = flasher.stream(start, size);
    let formatted = format_fat32(
        &mut stream,
        bytes_per_sector,
        Some(sectors as u32),
        &label,
        volume_id,
    );
    if let Err(source) = formatted {
        return Err(match stream.take_error() {
            Some(device_error) => device_error.into(),
            None => InstallError::io("formatting FAT32 on", device.clone())(source),
        });
    }
    flasher.sync()?;

    control.report(step(Phase::Finishing, 2, 3));
    let entry = MbrEntry {
        start_lba: start / sector,
        sectors,
        kind: MBR_TYPE_FAT32_LBA,
        active: false,
    };
    let mbr = mbr_sector(volume_id.0, &[entry], &device)?;
    let mut first = vec![0u8; sector as usize];
    first[..512].copy_from_slice(&mbr);
    flasher.write_verified(&first, 0)?;
    flasher.reread_partitions();
    control.report(step(Phase::Finishing, 3, 3));
    Ok(RestoreReport {
        drive: flasher.drive().description(),
        partition_start: start,
        partition_size: size,
        volume_id: volume_id.to_string(),
        label: label.to_string(),
    })
}

/// Whether `path` names a block device (a drive), as opposed to an image file.
pub fn is_block_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.file_type().is_block_device())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Layout, GIB};

    #[test]
    fn the_whole_drive_is_laid_out_when_something_lives_at_its_end() {
        let options = |layout, data_partition| InstallOptions {
            layout,
            data_partition,
            ..InstallOptions::default()
        };
        let stick = 16 * GIB;
        let small = 300 << 20;
        assert!(!needs_whole_drive(
            &options(Layout::Auto, false),
            small,
            stick,
            512
        ));
        assert!(!needs_whole_drive(
            &options(Layout::Superfloppy, false),
            small,
            stick,
            512
        ));
        assert!(needs_whole_drive(
            &options(Layout::Gpt, false),
            small,
            stick,
            512
        ));
        assert!(needs_whole_drive(
            &options(Layout::Auto, true),
            small,
            stick,
            512
        ));
        // Auto means GPT on 4Kn drives and above 2 TiB.
        assert!(needs_whole_drive(
            &options(Layout::Auto, false),
            small,
            stick,
            4096
        ));
        assert!(needs_whole_drive(
            &options(Layout::Auto, false),
            small,
            3 << 40,
            512
        ));
        // An image of 4 GiB or more lives on a data partition.
        assert!(needs_whole_drive(
            &options(Layout::Auto, false),
            5 * GIB,
            stick,
            512
        ));
    }
}
