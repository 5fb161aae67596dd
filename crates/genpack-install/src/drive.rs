//! Images to drives: the one way both the `genpack` command and the studio write a USB stick
//! or disk, and restore one for everyday use.
//!
//! [`write_to_drives`] opens each drive the user confirmed (as it was shown to them: path,
//! size, medium, model). A genpack image (`.squashfs`) is laid out once as a disk image for
//! those drives (their size and sector size) in a scratch folder; any other file is a disk
//! image, raw (`.img`, a hybrid `.iso`) or compressed (`.img.xz`, `.img.zst`, `.img.gz`), and
//! is written as it is, decompressed while streaming. When the user gave the image's SHA-256,
//! or a `<image>.sha256` lies beside it, the file is checked first and a mismatch writes
//! nothing. The image is then read once and written to every drive at once, each with the
//! partition table last, read back uncached and compared on its own: one failing drive does
//! not stop the others, and each drive's outcome is reported. [`write_to_drive`] is the same
//! for one drive. A ZIP that `genpack install --zip` exported is written as the genpack image
//! it holds (`system.img`), with the ZIP's `system.ini` and `system.cfg` unless others are
//! given; [`inspect_image`] tells which kind a file is. [`restore_drive`] puts one FAT32
//! partition over the whole drive, its table written last too.
//!
//! The drive is held open exclusively (`O_EXCL`, through UDisks2 when not root) from the
//! moment its confirmation is checked until the write is verified, so nothing can mount it
//! in between.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use genpack_drive::checksum::{file_sha256, read_sum_file, sum_file_beside};
use genpack_drive::{
    write_to_all, Confirmation, FlashError, FlashOptions, Flasher, Image, Phase, Progress, Sha256,
    WriteReport,
};
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

/// Several drives to write with one image: a genpack image laid out once for them, or a disk
/// image written as it is.
#[derive(Debug, Clone)]
pub struct DrivesWrite {
    /// A genpack image (`.squashfs`), a ZIP exported by genpack, or a disk image: raw
    /// (`.img`, `.iso`) or compressed with xz, zstd or gzip (told by its first bytes, not its
    /// name).
    pub image: PathBuf,
    /// Each drive as the user saw and confirmed it.
    pub drives: Vec<Confirmation>,
    /// For a genpack image or ZIP: as in [`DriveWrite::options`] (for a ZIP, a system.ini
    /// or system.cfg given here replaces the ZIP's own). A disk image is written as it is,
    /// so these must be left at their defaults.
    pub options: InstallOptions,
    /// The SHA-256 the user expects of the image file (for a compressed image, of the
    /// compressed file, as distributors publish it). When `None`, a `<image>.sha256` beside
    /// the image is used if there is one.
    pub sha256: Option<Sha256>,
}

/// What happened to one drive of a [`write_to_drives`].
#[derive(Debug)]
pub struct DriveOutcome {
    /// The drive's device node, as confirmed.
    pub device: PathBuf,
    /// The verified write, or why this drive failed (it then has no partition table).
    pub result: Result<DriveWriteReport>,
}

/// One progress report of a write to a drive.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(rename = "FlashProgress")]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriveProgress {
    /// Checking the image file's SHA-256 before anything is written.
    Checksum {
        /// Bytes of the file read.
        bytes_done: u64,
        /// The file's length.
        bytes_total: u64,
    },
    /// Laying the image out as a disk image for the drive (boot loaders, FAT, system.img).
    Layout,
    /// Writing to or reading back from a drive.
    Drive {
        /// The drive this is about.
        device: PathBuf,
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
    /// A drive is done, verified or failed; the others go on. Every drive of a write ends
    /// with one of these (also one that could not even be opened).
    DriveDone {
        /// The drive this is about.
        device: PathBuf,
        /// Why it failed; `None` when it was written and verified.
        error: Option<String>,
    },
}

impl From<&Progress> for DriveProgress {
    fn from(progress: &Progress) -> Self {
        DriveProgress::Drive {
            device: progress.device.clone(),
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

/// What kind of file an image to write is, as [`write_to_drives`] treats it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageKind {
    /// A genpack image (SquashFS): laid out for each drive (boot loaders, FAT boot partition,
    /// settings).
    Genpack,
    /// A ZIP exported by genpack: the genpack image in it is laid out like a `.squashfs`,
    /// with the ZIP's system.ini and system.cfg.
    GenpackZip,
    /// A disk image, written to the drive as it is.
    Disk {
        /// `none` for a raw image (`.img`, a hybrid `.iso`), else `xz`, `zstd` or `gzip`.
        compression: String,
    },
}

impl ImageKind {
    /// Whether the image is laid out for the drive, so that settings, label and partition
    /// table apply to it.
    pub fn is_laid_out(&self) -> bool {
        matches!(self, ImageKind::Genpack | ImageKind::GenpackZip)
    }
}

/// An image file as [`inspect_image`] sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ImageFile {
    /// What it is.
    pub kind: ImageKind,
    /// Bytes it takes on a drive, when known: a genpack image's own size (the layout adds
    /// boot files), a disk image's decompressed size.
    pub bytes: Option<u64>,
}

/// The name of the genpack image inside a ZIP export.
const ZIP_IMAGE: &str = "system.img";

/// Tells what kind of image `path` is and how large it is, from its first bytes (a ZIP from
/// its directory). Fails for a file that cannot be written to a drive, saying why.
pub fn inspect_image(path: &Path) -> Result<ImageFile> {
    if is_genpack_image(path)? {
        let bytes = std::fs::metadata(path)
            .map_err(InstallError::io("reading", path))?
            .len();
        return Ok(ImageFile {
            kind: ImageKind::Genpack,
            bytes: Some(bytes),
        });
    }
    if is_zip(path)? {
        let mut archive = open_zip(path)?;
        let entry = archive
            .by_name(ZIP_IMAGE)
            .map_err(|_| not_an_export(path))?;
        return Ok(ImageFile {
            kind: ImageKind::GenpackZip,
            bytes: Some(entry.size()),
        });
    }
    let image = Image::open(path)?;
    Ok(ImageFile {
        kind: ImageKind::Disk {
            compression: image.compression().name().to_string(),
        },
        bytes: image.len(),
    })
}

fn is_zip(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(InstallError::io("reading", path))?;
    let got = file
        .read(&mut magic)
        .map_err(InstallError::io("reading", path))?;
    Ok(got == 4 && &magic == b"PK\x03\x04")
}

fn open_zip(path: &Path) -> Result<zip::ZipArchive<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(InstallError::io("reading", path))?;
    zip::ZipArchive::new(file).map_err(|error| InstallError::BadImage {
        image: path.to_path_buf(),
        reason: format!("the ZIP archive cannot be read ({error})"),
    })
}

fn not_an_export(path: &Path) -> InstallError {
    InstallError::BadImage {
        image: path.to_path_buf(),
        reason: format!(
            "this ZIP archive has no {ZIP_IMAGE}, so it is not a genpack export; unpack it and \
             write the disk image inside"
        ),
    }
}

/// A ZIP export unpacked for laying out: its genpack image and settings files.
struct Unzipped {
    image: PathBuf,
    system_ini: Option<PathBuf>,
    system_cfg: Option<PathBuf>,
}

/// Unpacks the genpack image of the ZIP export `path` and its `system.ini` and `system.cfg`
/// into `dir`, checking each entry's CRC-32 as it is read.
fn unzip_export(path: &Path, dir: &Path, cancel: Option<&AtomicBool>) -> Result<Unzipped> {
    let mut archive = open_zip(path)?;
    let mut unpack = |name: &str| -> Result<Option<PathBuf>> {
        let mut entry = match archive.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(error) => {
                return Err(InstallError::BadImage {
                    image: path.to_path_buf(),
                    reason: format!("{name} in the ZIP archive cannot be read ({error})"),
                })
            }
        };
        let out = dir.join(name);
        let mut file = std::fs::File::create(&out).map_err(InstallError::io("creating", &out))?;
        let mut buf = vec![0u8; 4 << 20];
        loop {
            if cancel.is_some_and(|flag| flag.load(Ordering::Relaxed)) {
                return Err(InstallError::Cancelled {
                    device: path.to_path_buf(),
                    message: "cancelled before writing; the drives were not touched".into(),
                });
            }
            use std::io::{Read, Write};
            let got = entry
                .read(&mut buf)
                .map_err(|error| InstallError::BadImage {
                    image: path.to_path_buf(),
                    reason: format!("{name} in the ZIP archive is damaged ({error})"),
                })?;
            if got == 0 {
                break;
            }
            file.write_all(&buf[..got])
                .map_err(InstallError::io("writing", &out))?;
        }
        Ok(Some(out))
    };
    let image = unpack(ZIP_IMAGE)?.ok_or_else(|| not_an_export(path))?;
    let system_ini = unpack("system.ini")?;
    let system_cfg = unpack("system.cfg")?;
    Ok(Unzipped {
        image,
        system_ini,
        system_cfg,
    })
}

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
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(rename = "FlashResult")]
pub struct DriveWriteReport {
    /// The drive, for people: `"SanDisk Ultra, 14.9 GiB (/dev/sdb)"`.
    pub drive: String,
    /// Its device node.
    pub device: PathBuf,
    /// The partition table: `mbr`, `gpt`, `none` for a superfloppy, or `image` for a disk
    /// image written as it is.
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
    /// Where everything went on the drive (`None` for a disk image written as it is).
    #[serde(skip)]
    pub layout: Option<InstallReport>,
}

/// Lays `request.image` out for the confirmed drive and writes it there, partition table
/// last, verified by reading back: [`write_to_drives`] with one drive.
///
/// Fails without writing anything when the drive is not the one confirmed any more, may not
/// be written ([`genpack_drive::Refusal`]), is held by something else, or the image cannot
/// be laid out for it. A failure, a mismatch or a cancel during the write leaves the drive
/// without a partition table, never half-written and bootable-looking.
pub fn write_to_drive(request: &DriveWrite, control: DriveControl) -> Result<DriveWriteReport> {
    let request = DrivesWrite {
        image: request.image.clone(),
        drives: vec![request.drive.clone()],
        options: request.options.clone(),
        sha256: None,
    };
    let mut outcomes = write_to_drives(&request, control)?;
    match outcomes.pop() {
        Some(outcome) => outcome.result,
        None => Err(InstallError::Cancelled {
            device: request.drives[0].path().to_path_buf(),
            message: "no drive was written".into(),
        }),
    }
}

/// Writes `request.image` to every confirmed drive at once; see the module docs.
///
/// Fails as a whole, before any drive is touched, when the image cannot be read or laid
/// out, its SHA-256 is not the one expected, or the user cancels before writing. Otherwise
/// returns each drive's outcome in the order given: a drive that cannot be opened, is too
/// small or fails while writing or verifying fails alone, without a partition table.
pub fn write_to_drives(
    request: &DrivesWrite,
    mut control: DriveControl,
) -> Result<Vec<DriveOutcome>> {
    if request.options.size.is_some() || request.options.sector_size.is_some() {
        return Err(InstallError::Layout {
            disk: first_drive(request),
            message: "a drive is written for its own size and sector size; leave them unset".into(),
        });
    }
    let kind = inspect_image(&request.image)?.kind;
    let genpack_image = kind.is_laid_out();
    if !genpack_image && has_layout_options(&request.options) {
        return Err(InstallError::Layout {
            disk: first_drive(request),
            message: format!(
                "{} is a disk image, written to the drive as it is; system.ini, system.cfg, \
                 label, partition table and data partition apply to genpack images (.squashfs) \
                 and their ZIP exports",
                request.image.display()
            ),
        });
    }
    check_sum(request, &mut control)?;

    let mut outcomes: Vec<Option<DriveOutcome>> = request.drives.iter().map(|_| None).collect();
    let mut opened = Vec::new();
    for (index, confirmation) in request.drives.iter().enumerate() {
        let flasher = Flasher::open(confirmation.path(), confirmation.clone())
            .map_err(InstallError::from)
            .and_then(|flasher| {
                if genpack_image {
                    check_sector_size(&flasher)?;
                }
                Ok(flasher)
            });
        match flasher {
            Ok(flasher) => opened.push((index, flasher)),
            Err(error) => {
                control.report(DriveProgress::DriveDone {
                    device: confirmation.path().to_path_buf(),
                    error: Some(error.to_string()),
                });
                outcomes[index] = Some(DriveOutcome {
                    device: confirmation.path().to_path_buf(),
                    result: Err(error),
                })
            }
        }
    }

    // A ZIP export: its genpack image and settings, unpacked next to the disk image.
    let mut scratch = Vec::new();
    let mut image_path = request.image.clone();
    let mut options = request.options.clone();
    if kind == ImageKind::GenpackZip && !opened.is_empty() {
        control.report(DriveProgress::Layout);
        let dir = scratch_dir()?;
        let unzipped = unzip_export(&request.image, dir.path(), control.cancel.as_deref())?;
        image_path = unzipped.image;
        options.system_ini = options.system_ini.or(unzipped.system_ini);
        options.system_cfg = options.system_cfg.or(unzipped.system_cfg);
        scratch.push(dir);
    }

    // What each group of drives gets: one disk image per drive size and sector size that
    // needs its own layout (usually one for all).
    let mut batches: Vec<Batch> = Vec::new();
    if genpack_image {
        if kind == ImageKind::Genpack {
            control.report(DriveProgress::Layout);
        }
        let image_size = std::fs::metadata(&image_path)
            .map_err(InstallError::io("reading", &image_path))?
            .len();
        for (index, flasher) in opened {
            let drive = flasher.drive();
            let sector_size = u64::from(drive.logical_sector_size);
            let whole = needs_whole_drive(&options, image_size, drive.size, sector_size);
            let key = (sector_size, whole.then_some(drive.size));
            match batches.iter_mut().find(|batch| batch.key == key) {
                Some(batch) => batch.drives.push((index, flasher)),
                None => batches.push(Batch {
                    key,
                    disk: None,
                    drives: vec![(index, flasher)],
                }),
            }
        }
        for batch in &mut batches {
            // Laid out for the smallest drive of the batch; every one of them takes it.
            let smallest = batch
                .drives
                .iter()
                .map(|(_, f)| f.size())
                .min()
                .unwrap_or(0);
            let dir = scratch_dir()?;
            let disk = dir.path().join("disk.img");
            let options = InstallOptions {
                size: batch.key.1.map(|_| smallest),
                sector_size: Some(batch.key.0),
                ..options.clone()
            };
            let layout = install_to_disk_image(&image_path, &disk, &options)?;
            batch.disk = Some((disk, layout));
            scratch.push(dir);
        }
    } else {
        batches.push(Batch {
            key: (0, None),
            disk: None,
            drives: opened,
        });
    }
    if control.cancelled() {
        return Err(InstallError::Cancelled {
            device: first_drive(request),
            message: "cancelled before writing; the drives were not touched".into(),
        });
    }

    let sink = Arc::new(Mutex::new(control.progress.take()));
    for batch in batches {
        let image = match &batch.disk {
            Some((disk, _)) => Image::open(disk)?,
            None => Image::open(&request.image)?,
        };
        let progress_sink = Arc::clone(&sink);
        let finished_sink = Arc::clone(&sink);
        let flash_options = FlashOptions {
            cancel: control.cancel.clone(),
            progress: Some(Box::new(move |progress: &Progress| {
                let mut sink = progress_sink
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                if let Some(sink) = sink.as_mut() {
                    sink(&DriveProgress::from(progress));
                }
            })),
            finished: Some(Box::new(
                move |device: &Path, result: std::result::Result<&WriteReport, &FlashError>| {
                    let mut sink = finished_sink
                        .lock()
                        .unwrap_or_else(|poison| poison.into_inner());
                    if let Some(sink) = sink.as_mut() {
                        sink(&DriveProgress::DriveDone {
                            device: device.to_path_buf(),
                            error: result.err().map(|error| error.to_string()),
                        });
                    }
                },
            )),
        };
        let (indexes, flashers): (Vec<usize>, Vec<Flasher>) = batch.drives.into_iter().unzip();
        let results = write_to_all(&image, &flashers, flash_options);
        for ((index, flasher), result) in indexes.into_iter().zip(&flashers).zip(results) {
            let layout = batch.disk.as_ref().map(|(_, layout)| layout);
            outcomes[index] = Some(DriveOutcome {
                device: request.drives[index].path().to_path_buf(),
                result: result
                    .map(|written| report(flasher, written, layout))
                    .map_err(InstallError::from),
            });
        }
    }
    drop(scratch);
    Ok(outcomes
        .into_iter()
        .zip(&request.drives)
        .map(|(outcome, confirmation)| {
            outcome.unwrap_or_else(|| DriveOutcome {
                device: confirmation.path().to_path_buf(),
                result: Err(InstallError::Cancelled {
                    device: confirmation.path().to_path_buf(),
                    message: "the drive was not written".into(),
                }),
            })
        })
        .collect())
}

/// Drives that get the same disk image.
struct Batch {
    /// Sector size, and the drive size when the layout fills the drive.
    key: (u64, Option<u64>),
    /// The laid out disk image (for a genpack image).
    disk: Option<(PathBuf, InstallReport)>,
    drives: Vec<(usize, Flasher)>,
}

fn first_drive(request: &DrivesWrite) -> PathBuf {
    request
        .drives
        .first()
        .map(|drive| drive.path().to_path_buf())
        .unwrap_or_default()
}

fn report(
    flasher: &Flasher,
    written: WriteReport,
    layout: Option<&InstallReport>,
) -> DriveWriteReport {
    let drive = flasher.drive();
    DriveWriteReport {
        drive: drive.description(),
        device: written.device,
        table: match layout.map(|layout| layout.table) {
            Some(Some(PartitionTable::Mbr)) => "mbr",
            Some(Some(PartitionTable::Gpt)) => "gpt",
            Some(None) => "none",
            None => "image",
        },
        bios_boot: layout.is_some_and(|layout| layout.bios_boot),
        volume_id: layout.map_or_else(String::new, |layout| layout.volume_id.to_string()),
        image_bytes: written.image_len,
        bytes_verified: written.bytes_verified,
        write_seconds: written.write_time.as_secs_f64(),
        verify_seconds: written.verify_time.as_secs_f64(),
        layout: layout.map(|layout| InstallReport {
            disk: drive.path.clone(),
            ..layout.clone()
        }),
    }
}

fn check_sector_size(flasher: &Flasher) -> Result<()> {
    let sector_size = flasher.sector_size();
    if SECTOR_SIZES.contains(&sector_size) {
        return Ok(());
    }
    Err(InstallError::SectorSize {
        disk: flasher.drive().path.clone(),
        message: format!(
            "the drive has {sector_size}-byte logical sectors; only drives with 512- or \
             4096-byte sectors can be written"
        ),
    })
}

/// Whether `path` is a genpack image (a SquashFS), as opposed to a disk image.
pub fn is_genpack_image(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(InstallError::io("reading", path))?;
    let got = file
        .read(&mut magic)
        .map_err(InstallError::io("reading", path))?;
    Ok(got == 4 && &magic == b"hsqs")
}

fn has_layout_options(options: &InstallOptions) -> bool {
    options.system_ini.is_some()
        || options.system_cfg.is_some()
        || options.label.is_some()
        || options.layout != crate::layout::Layout::Auto
        || options.data_partition
}

/// Checks the image file against the sum the user gave or the `<image>.sha256` beside it;
/// a mismatch fails before anything is written.
fn check_sum(request: &DrivesWrite, control: &mut DriveControl) -> Result<()> {
    let beside = sum_file_beside(&request.image);
    let (expected, expected_from) = match request.sha256 {
        Some(sum) => (sum, "the sum given".to_string()),
        None if beside.is_file() => {
            let name = request
                .image
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            (read_sum_file(&beside, &name)?, beside.display().to_string())
        }
        None => return Ok(()),
    };
    let cancel = control.cancel.clone();
    let actual = file_sha256(
        &request.image,
        cancel.as_deref(),
        &mut |bytes_done, bytes_total| {
            control.report(DriveProgress::Checksum {
                bytes_done,
                bytes_total,
            })
        },
    )?;
    if actual != expected {
        return Err(FlashError::ChecksumMismatch {
            path: request.image.clone(),
            actual: actual.to_string(),
            expected: expected.to_string(),
            expected_from,
        }
        .into());
    }
    Ok(())
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
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
        device: device.clone(),
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
