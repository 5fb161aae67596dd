//! Self-update of a running system: a new image replaces `system.img` on the mounted boot
//! partition so that the next boot starts it, and the running image is kept for rollback.
//!
//! The boot partition is FAT, which has no journal. The update is ordered so that the boot
//! loader finds a complete `system.img` after a crash at any point:
//!
//! 1. [`Step::Verify`]: the new image is a genpack image (SquashFS superblock, complete file,
//!    `/.genpack` metadata, `/boot/kernel`, `/boot/initramfs`); FAT's 4 GiB file limit and the
//!    free space are checked; an update a crash interrupted is finished or undone first
//!    ([`recover_interrupted`]), and `system.old` is removed when the space is needed.
//! 2. [`Step::Copy`]: the image is copied to `system.new`, then the file and the directory are
//!    flushed (fsync).
//! 3. [`Step::Swap`]: the swap record `system.swap` names the new image (its length and
//!    SquashFS superblock) and is flushed; then `system.new` and `system.img` trade places in one
//!    `renameat2(RENAME_EXCHANGE)`. On FAT this rewrites the two directory entries in place,
//!    each a single 32-byte write: `system.img` always names a complete image, the old one or
//!    the new one.
//! 4. [`Step::Keep`]: `system.new` (now the running image) becomes `system.cur`; the initramfs
//!    renames it to `system.old` on the next boot. When `system.cur` already exists (an update
//!    that has not been booted yet), it holds the running image and stays; the un-booted image
//!    is removed instead. Then the swap record is removed.
//! 5. [`Step::RefreshBootFiles`]: UEFI loaders the new image carries under
//!    `/usr/lib/genpack-install/` replace those on the partition, so do a Raspberry Pi
//!    image's boot files (except the user's `config.txt` and `cmdline.txt`), and
//!    `EFI/BOOT/grub.cfg` is regenerated when this version writes a different one; each file
//!    is written to a temporary name, flushed and renamed over the old one.
//!
//! After a crash, `system.img` is a complete image in every state, so the system boots. What
//! else is on the partition tells [`recover_interrupted`] (run by the next update and by
//! [`rollback`]) where the crash was: a `system.new` without a swap record is a copy that never
//! became `system.img` (partial or not) and is removed; with a swap record, `system.img` is
//! compared with the image the record names: if it is the new one, the exchange happened and
//! `system.new` is the previous image, kept as `system.cur` (the step the crash cut short);
//! otherwise the exchange never happened and `system.new` is the unused copy.
//!
//! [`rollback`] swaps `system.img` with `system.cur` (an update not booted yet) or with
//! `system.old` (the image that ran before the last update), the same atomic way.
//!
//! Images of 4 GiB or more live on the data partition as `system`
//! ([`UpdateOptions::data_partition`]); the same steps apply there with that name.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::fat::VolumeId;
use crate::grub::{grub_cfg_for, BootVolume, CONFIG_PATH};
use crate::loaders::EfiPlatform;
use crate::raspberry_pi;
use crate::system::{open_installable, InstallableImage};

/// Where the initramfs mounts the boot partition of a running system.
pub const DEFAULT_BOOT_DIR: &str = "/run/initramfs/boot";
/// The image GRUB and the initramfs boot.
pub const SYSTEM_IMG: &str = "system.img";
/// Where the initramfs mounts the data partition of a running system.
pub const DEFAULT_DATA_DIR: &str = "/run/initramfs/rw";
/// The image's name on the data partition (images of 4 GiB or more).
pub const DATA_SYSTEM: &str = "system";
/// The new image while it is being copied.
pub const SYSTEM_NEW: &str = "system.new";
/// The image that ran when the update was made (until the next boot).
pub const SYSTEM_CUR: &str = "system.cur";
/// The image that ran before the last booted update.
pub const SYSTEM_OLD: &str = "system.old";
/// The swap record: which image an exchange in progress puts in place.
pub const SWAP_RECORD: &str = "system.swap";

/// Largest file FAT32 can hold.
const FAT32_MAX_FILE: u64 = (4 << 30) - 1;
/// `statfs` magic of FAT file systems.
const MSDOS_SUPER_MAGIC: i64 = 0x4d44;
/// Room kept free besides the image (directory growth, boottime.txt, system.ini edits).
const SPARE_BYTES: u64 = 1 << 20;
const GRUB_CFG: &str = CONFIG_PATH;

/// The steps of [`self_update`], in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Check the new image and the room on the boot partition.
    Verify,
    /// Copy the new image to `system.new` and flush it.
    Copy,
    /// Exchange `system.new` and `system.img` atomically.
    Swap,
    /// Keep the previous image as `system.cur` (or drop an un-booted one).
    Keep,
    /// Replace boot loaders and grub.cfg when the new image or this version has newer ones.
    RefreshBootFiles,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 5] = [
        Step::Verify,
        Step::Copy,
        Step::Swap,
        Step::Keep,
        Step::RefreshBootFiles,
    ];

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Step::Verify => "verify",
            Step::Copy => "copy",
            Step::Swap => "swap",
            Step::Keep => "keep",
            Step::RefreshBootFiles => "refresh-boot-files",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Options of [`self_update`].
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// The directory holding the image: the mounted boot partition ([`DEFAULT_BOOT_DIR`] by
    /// default), or the data partition for images of 4 GiB or more.
    pub boot_dir: PathBuf,
    /// The image's name in that directory: [`SYSTEM_IMG`], or [`DATA_SYSTEM`] on the data
    /// partition. `system.new`, `system.cur` and `system.old` sit next to it.
    pub image_name: String,
    /// Where boot loaders and grub.cfg are refreshed when that is not `boot_dir` (the boot
    /// partition, when the image lives on the data partition).
    pub boot_files_dir: Option<PathBuf>,
    /// Stop (successfully) after this step; for testing what a crash there leaves behind.
    pub stop_after: Option<Step>,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        Self {
            boot_dir: PathBuf::from(DEFAULT_BOOT_DIR),
            image_name: SYSTEM_IMG.to_string(),
            boot_files_dir: None,
            stop_after: None,
        }
    }
}

impl UpdateOptions {
    /// Options for the boot partition mounted at `boot_dir`.
    pub fn new(boot_dir: impl Into<PathBuf>) -> Self {
        Self {
            boot_dir: boot_dir.into(),
            ..Self::default()
        }
    }

    /// Options for an image stored as `system` on the data partition mounted at `data_dir`.
    pub fn data_partition(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            boot_dir: data_dir.into(),
            image_name: DATA_SYSTEM.to_string(),
            boot_files_dir: Some(PathBuf::from(DEFAULT_BOOT_DIR)),
            stop_after: None,
        }
    }

    /// Where a running system keeps its image: `system.img` on the boot partition, else
    /// `system` on the data partition (as the initramfs looks for them).
    pub fn running_system() -> Self {
        let boot = Self::default();
        let data = Self::data_partition(DEFAULT_DATA_DIR);
        if !boot.image_path().is_file() && data.image_path().is_file() {
            data
        } else {
            boot
        }
    }

    /// The image file that boots.
    pub fn image_path(&self) -> PathBuf {
        self.boot_dir.join(&self.image_name)
    }

    /// Stops after `step` (see [`UpdateOptions::stop_after`]).
    pub fn stop_after(mut self, step: Step) -> Self {
        self.stop_after = Some(step);
        self
    }
}

/// A progress report of [`self_update`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// The step running.
    pub step: Step,
    /// Bytes done in this step.
    pub bytes_done: u64,
    /// Bytes this step handles in total (0 when it copies nothing).
    pub bytes_total: u64,
    /// Average rate of this step so far, bytes per second.
    pub bytes_per_second: f64,
}

/// What [`self_update`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateReport {
    /// The last step completed.
    pub last_step: Option<Step>,
    /// Whether the run stopped early because of [`UpdateOptions::stop_after`].
    pub stopped_early: bool,
    /// Size of the new image in bytes.
    pub image_size: u64,
    /// `system.old` was removed to make room.
    pub removed_old: bool,
    /// The previous image is kept under this name (`system.cur`).
    pub previous: Option<String>,
    /// Boot files replaced on the partition (paths on the partition).
    pub refreshed: Vec<String>,
    /// What was done about an update a crash had interrupted, before this one started.
    pub recovered: Option<Recovery>,
}

/// What [`recover_interrupted`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// A copy that never became `system.img` (a crash during or after the copy): removed.
    UnusedCopyRemoved,
    /// The exchange had happened: the previous image, left as `system.new`, is kept as
    /// `system.cur`.
    PreviousImageKept,
    /// The exchange had happened over an update that was never booted: that un-booted image,
    /// left as `system.new`, is removed; `system.cur` holds the running image.
    UnbootedUpdateRemoved,
    /// Only the swap record was left (the crash came after the previous image was kept).
    RecordRemoved,
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Recovery::UnusedCopyRemoved => {
                "an interrupted update's copy, which never replaced system.img, was removed"
            }
            Recovery::PreviousImageKept => {
                "an interrupted update had replaced system.img; the previous image is kept as system.cur"
            }
            Recovery::UnbootedUpdateRemoved => {
                "an interrupted update had replaced an update never booted; that one was removed"
            }
            Recovery::RecordRemoved => "an interrupted update's swap record was removed",
        })
    }
}

/// What [`rollback`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackReport {
    /// The file that became `system.img` (`system.cur` or `system.old`); the image that was
    /// `system.img` now has this name, so a second rollback undoes the first.
    pub restored_from: String,
    /// What was done about an update a crash had interrupted, before rolling back.
    pub recovered: Option<Recovery>,
}

/// Why an update or rollback failed. Each error says what state the boot partition is in.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The new image cannot be used; nothing was changed.
    #[error("{} is not a bootable genpack image: {reason}; nothing was changed", image.display())]
    BadImage {
        /// The image.
        image: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The boot directory does not hold a system.
    #[error("{} holds no {image_name}; is it the mounted boot partition? (pass its directory with --boot-dir)", dir.display())]
    NotABootDir {
        /// The directory.
        dir: PathBuf,
        /// The image file looked for.
        image_name: String,
    },
    /// The image is larger than a FAT file can be.
    #[error("{} is {size} bytes but files on the FAT boot partition {} are limited to 4 GiB - 1; nothing was changed", image.display(), dir.display())]
    TooLargeForFat {
        /// The image.
        image: PathBuf,
        /// Its size.
        size: u64,
        /// The boot directory.
        dir: PathBuf,
    },
    /// Not enough free space for the copy.
    #[error("{} has {available} bytes free but the new image needs {needed}; remove files from it or free space, nothing was changed", dir.display())]
    NoSpace {
        /// The boot directory.
        dir: PathBuf,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The kernel cannot exchange two files atomically on this file system.
    #[error("the kernel cannot exchange files atomically in {} ({source}); FAT needs Linux 6.0 or newer. Nothing was changed", dir.display())]
    NoAtomicExchange {
        /// The boot directory.
        dir: PathBuf,
        /// What renameat2 reported.
        #[source]
        source: std::io::Error,
    },
    /// Nothing to roll back to.
    #[error("{} has neither system.cur nor system.old; there is no previous image to go back to", dir.display())]
    NothingToRollBack {
        /// The boot directory.
        dir: PathBuf,
    },
    /// A file operation failed during a step.
    #[error("{step}: {action} {}: {source}{}", path.display(), state_hint(*step))]
    Io {
        /// The step.
        step: Step,
        /// What was being done.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn state_hint(step: Step) -> &'static str {
    match step {
        Step::Verify | Step::Copy => "; system.img is unchanged and still boots",
        Step::Swap => "; system.img is either the old or the new image, both complete",
        Step::Keep | Step::RefreshBootFiles => "; the new system.img is in place",
    }
}

fn io_err(
    step: Step,
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> UpdateError {
    let path = path.to_path_buf();
    move |source| UpdateError::Io {
        step,
        action,
        path,
        source,
    }
}

/// Installs `image` as the next system of the running machine whose boot partition is
/// mounted at `options.boot_dir`. See the module documentation for the steps and why a crash
/// at any of them leaves a bootable system. `progress` is called during the copy.
pub fn self_update(
    image: &Path,
    options: &UpdateOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<UpdateReport, UpdateError> {
    let dir = options.boot_dir.as_path();
    let target = options.image_name.as_str();
    let mut report = UpdateReport::default();
    let done = |report: &mut UpdateReport, step: Step| {
        report.last_step = Some(step);
        report.stopped_early = options.stop_after == Some(step) && step != Step::RefreshBootFiles;
        options.stop_after == Some(step)
    };

    // 1. Verify.
    let new_image = verify_image(image)?;
    report.image_size = new_image.size;
    if !dir.join(target).is_file() {
        return Err(UpdateError::NotABootDir {
            dir: dir.to_path_buf(),
            image_name: target.to_string(),
        });
    }
    let stats = statfs(dir).map_err(io_err(Step::Verify, "reading the free space of", dir))?;
    if stats.is_fat && new_image.size > FAT32_MAX_FILE {
        return Err(UpdateError::TooLargeForFat {
            image: image.to_path_buf(),
            size: new_image.size,
            dir: dir.to_path_buf(),
        });
    }
    check_exchange(dir)?;
    // Read the Raspberry Pi boot files now: an unreadable one must stop the update here.
    let pi_files =
        raspberry_pi::boot_files(&new_image.image, "auto").map_err(|e| UpdateError::BadImage {
            image: image.to_path_buf(),
            reason: e.to_string(),
        })?;
    report.recovered = recover_interrupted(dir, target)?;
    let needed = new_image.size + SPARE_BYTES;
    let mut available = statfs(dir)
        .map_err(io_err(Step::Verify, "reading the free space of", dir))?
        .available;
    if available < needed && dir.join(SYSTEM_OLD).exists() {
        remove_if_present(dir, SYSTEM_OLD, Step::Verify)?;
        report.removed_old = true;
        available = statfs(dir)
            .map_err(io_err(Step::Verify, "reading the free space of", dir))?
            .available;
    }
    if available < needed {
        return Err(UpdateError::NoSpace {
            dir: dir.to_path_buf(),
            needed,
            available,
        });
    }
    if done(&mut report, Step::Verify) {
        return Ok(report);
    }

    // 2. Copy.
    let new_path = dir.join(SYSTEM_NEW);
    if let Err(error) = copy_with_progress(image, &new_path, new_image.size, progress) {
        // A partial copy only takes space; system.img was not touched.
        let _ = std::fs::remove_file(&new_path);
        return Err(error);
    }
    let copied = verify_image(&new_path).map_err(|e| UpdateError::Io {
        step: Step::Copy,
        action: "checking the copy",
        path: new_path.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    if copied.size != new_image.size {
        return Err(UpdateError::Io {
            step: Step::Copy,
            action: "checking the copy",
            path: new_path,
            source: std::io::Error::other("the copy's size differs from the image"),
        });
    }
    sync_dir(dir, Step::Copy)?;
    if done(&mut report, Step::Copy) {
        return Ok(report);
    }

    // 3. Swap.
    let pending_update = dir.join(SYSTEM_CUR).exists();
    let in_place = dir.join(target);
    stamp_copy(&new_path, &in_place).map_err(io_err(Step::Swap, "stamping", &new_path))?;
    let record = SwapRecord {
        new_image: image_identity(&new_path).map_err(io_err(Step::Swap, "reading", &new_path))?,
    };
    record.write(dir)?;
    exchange(dir, SYSTEM_NEW, target).map_err(io_err(
        Step::Swap,
        "exchanging system.new and system.img in",
        dir,
    ))?;
    sync_files(dir, &[target, SYSTEM_NEW], Step::Swap)?;
    if done(&mut report, Step::Swap) {
        return Ok(report);
    }

    // 4. Keep.
    if pending_update {
        // system.cur holds the running image; system.new the update that never booted.
        remove_if_present(dir, SYSTEM_NEW, Step::Keep)?;
    } else {
        std::fs::rename(dir.join(SYSTEM_NEW), dir.join(SYSTEM_CUR)).map_err(io_err(
            Step::Keep,
            "renaming system.new to system.cur in",
            dir,
        ))?;
        sync_files(dir, &[SYSTEM_CUR], Step::Keep)?;
    }
    remove_if_present(dir, SWAP_RECORD, Step::Keep)?;
    report.previous = Some(SYSTEM_CUR.to_string());
    if done(&mut report, Step::Keep) {
        return Ok(report);
    }

    // 5. Refresh boot files.
    let boot_files = options.boot_files_dir.as_deref().unwrap_or(dir);
    report.refreshed = refresh_boot_files(boot_files, &new_image.image, pi_files)?;
    done(&mut report, Step::RefreshBootFiles);
    Ok(report)
}

/// Puts the previous image back: `system.cur` (an update not booted yet) or else
/// `system.old` is exchanged with `system.img` atomically, after checking it is a complete
/// genpack image.
pub fn rollback(options: &UpdateOptions) -> Result<RollbackReport, UpdateError> {
    let boot_dir = options.boot_dir.as_path();
    let target = options.image_name.as_str();
    if !boot_dir.join(target).is_file() {
        return Err(UpdateError::NotABootDir {
            dir: boot_dir.to_path_buf(),
            image_name: target.to_string(),
        });
    }
    let recovered = recover_interrupted(boot_dir, target)?;
    let source = [SYSTEM_CUR, SYSTEM_OLD]
        .into_iter()
        .find(|name| boot_dir.join(name).is_file())
        .ok_or_else(|| UpdateError::NothingToRollBack {
            dir: boot_dir.to_path_buf(),
        })?;
    verify_image(&boot_dir.join(source))?;
    check_exchange(boot_dir)?;
    exchange(boot_dir, source, target).map_err(io_err(
        Step::Swap,
        "exchanging the previous image and system.img in",
        boot_dir,
    ))?;
    sync_files(boot_dir, &[target, source], Step::Swap)?;
    Ok(RollbackReport {
        restored_from: source.to_string(),
        recovered,
    })
}

/// Finishes or undoes an update that a crash (or a stop) interrupted, from what is on the
/// partition (see the module documentation); `None` when nothing was interrupted. Never
/// removes the only copy of an image that was running: the previous image is kept.
pub fn recover_interrupted(dir: &Path, target: &str) -> Result<Option<Recovery>, UpdateError> {
    let new_copy = dir.join(SYSTEM_NEW);
    let Some(record) = SwapRecord::read(dir)? else {
        if new_copy.exists() {
            remove_if_present(dir, SYSTEM_NEW, Step::Verify)?;
            return Ok(Some(Recovery::UnusedCopyRemoved));
        }
        return Ok(None);
    };
    let target_path = dir.join(target);
    let in_place =
        image_identity(&target_path).map_err(io_err(Step::Verify, "reading", &target_path))?;
    let recovery = if in_place != record.new_image {
        // The exchange never happened: system.new is the unused copy.
        remove_if_present(dir, SYSTEM_NEW, Step::Verify)?;
        Recovery::UnusedCopyRemoved
    } else if !new_copy.exists() {
        Recovery::RecordRemoved
    } else if dir.join(SYSTEM_CUR).exists() {
        // system.cur holds the running image; system.new the update that never booted.
        remove_if_present(dir, SYSTEM_NEW, Step::Keep)?;
        Recovery::UnbootedUpdateRemoved
    } else {
        std::fs::rename(&new_copy, dir.join(SYSTEM_CUR)).map_err(io_err(
            Step::Keep,
            "renaming system.new to system.cur in",
            dir,
        ))?;
        sync_files(dir, &[SYSTEM_CUR], Step::Keep)?;
        Recovery::PreviousImageKept
    };
    remove_if_present(dir, SWAP_RECORD, Step::Keep)?;
    Ok(Some(recovery))
}

/// What an exchange in progress puts in place, written before it and removed after the
/// previous image is kept.
struct SwapRecord {
    /// [`image_identity`] of the new image.
    new_image: String,
}

impl SwapRecord {
    fn write(&self, dir: &Path) -> Result<(), UpdateError> {
        let temp = dir.join(format!("{SWAP_RECORD}.tmp"));
        let path = dir.join(SWAP_RECORD);
        std::fs::write(&temp, format!("{}\n", self.new_image)).map_err(io_err(
            Step::Swap,
            "writing",
            &temp,
        ))?;
        File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(io_err(Step::Swap, "flushing", &temp))?;
        std::fs::rename(&temp, &path).map_err(io_err(Step::Swap, "renaming", &temp))?;
        sync_files(dir, &[SWAP_RECORD], Step::Swap)
    }

    /// The record in `dir`; `None` when there is none, or only a torn temporary one (the
    /// exchange never started then).
    fn read(dir: &Path) -> Result<Option<SwapRecord>, UpdateError> {
        let _ = std::fs::remove_file(dir.join(format!("{SWAP_RECORD}.tmp")));
        let path = dir.join(SWAP_RECORD);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(SwapRecord {
                new_image: text.trim().to_string(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(Step::Verify, "reading", &path)(e)),
        }
    }
}

/// An image told apart from another: its length, its modification time (to FAT's two
/// seconds) and its SquashFS superblock. Two builds of the same inputs can share length and
/// superblock, so the update gives the copy a modification time of its own ([`stamp_copy`]).
fn image_identity(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    let mut superblock = [0u8; 96];
    let read = file.read(&mut superblock)?;
    let hex: String = superblock[..read]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(format!("{}:{}:{hex}", meta.len(), fat_seconds(&meta)))
}

/// A file's modification time in whole seconds, rounded down to even ones as FAT keeps it.
fn fat_seconds(meta: &std::fs::Metadata) -> u64 {
    let secs = meta
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_secs());
    secs - secs % 2
}

/// Gives the copy `system.new` a modification time (now, to FAT's two seconds) that differs
/// from `system.img`'s, so that [`image_identity`] tells them apart even when their bytes
/// are alike.
fn stamp_copy(copy: &Path, in_place: &Path) -> std::io::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut stamp = now - now % 2;
    if fat_seconds(&std::fs::metadata(in_place)?) == stamp {
        stamp += 2;
    }
    let file = File::options().write(true).open(copy)?;
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(stamp))?;
    file.sync_all()
}

/// The image, opened, when it can be installed (see [`open_installable`]).
fn verify_image(image: &Path) -> Result<InstallableImage, UpdateError> {
    open_installable(image).map_err(|reason| UpdateError::BadImage {
        image: image.to_path_buf(),
        reason,
    })
}

fn copy_with_progress(
    from: &Path,
    to: &Path,
    total: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), UpdateError> {
    let step = Step::Copy;
    let mut input = File::open(from).map_err(io_err(step, "reading", from))?;
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(io_err(step, "creating", to))?;
    let started = Instant::now();
    let mut buf = vec![0u8; 4 << 20];
    let mut done = 0u64;
    let report = |done: u64, progress: &mut dyn FnMut(Progress)| {
        let seconds = started.elapsed().as_secs_f64();
        progress(Progress {
            step,
            bytes_done: done,
            bytes_total: total,
            bytes_per_second: if seconds > 0.0 {
                done as f64 / seconds
            } else {
                0.0
            },
        });
    };
    report(0, progress);
    loop {
        let n = input
            .read(&mut buf)
            .map_err(io_err(step, "reading", from))?;
        if n == 0 {
            break;
        }
        output
            .write_all(&buf[..n])
            .map_err(io_err(step, "writing", to))?;
        done += n as u64;
        report(done, progress);
    }
    output.sync_all().map_err(io_err(step, "flushing", to))?;
    Ok(())
}

/// Replaces boot files that differ from what the new image or this version provides.
fn refresh_boot_files(
    dir: &Path,
    image: &genpack_image::Image,
    pi_files: Vec<raspberry_pi::BootFile>,
) -> Result<Vec<String>, UpdateError> {
    let mut refreshed = Vec::new();
    for platform in EfiPlatform::ALL {
        let Ok(bytes) = image.read(platform.image_path()) else {
            continue;
        };
        if replace_if_different(dir, platform.boot_path(), &bytes)? {
            refreshed.push(platform.boot_path().to_string());
        }
    }
    // Raspberry Pi firmware, kernel and device trees; the user's config.txt and cmdline.txt
    // stay when the partition has them.
    for file in pi_files {
        if raspberry_pi::is_user_file(&file.path) && dir.join(&file.path).exists() {
            continue;
        }
        if replace_if_different(dir, &file.path, &file.bytes)? {
            refreshed.push(file.path);
        }
    }
    let cfg_path = dir.join(GRUB_CFG);
    if let Ok(current) = std::fs::read_to_string(&cfg_path) {
        if let Some(volume) = boot_volume_in(&current) {
            if replace_if_different(dir, GRUB_CFG, grub_cfg_for(volume).as_bytes())? {
                refreshed.push(GRUB_CFG.to_string());
            }
        }
    }
    Ok(refreshed)
}

/// How a genpack grub.cfg finds its boot partition: by the FAT volume id it passes as
/// `root=systemimg:ABCD-1234`, or by the device it was read from (`root=systemimg:auto`, for
/// files unpacked onto a stick).
fn boot_volume_in(cfg: &str) -> Option<BootVolume> {
    let id = cfg
        .split_whitespace()
        .find_map(|w| w.trim_matches('"').strip_prefix("root=systemimg:"))?;
    if id == "auto" {
        return cfg
            .contains("probe --set=BOOT_PARTITION_UUID")
            .then_some(BootVolume::Current);
    }
    let (high, low) = id.split_once('-')?;
    if high.len() != 4 || low.len() != 4 {
        return None;
    }
    let high = u32::from_str_radix(high, 16).ok()?;
    let low = u32::from_str_radix(low, 16).ok()?;
    Some(BootVolume::Fat(VolumeId((high << 16) | low)))
}

/// Writes `relative` under `dir` atomically when its content differs; returns whether it did.
fn replace_if_different(dir: &Path, relative: &str, bytes: &[u8]) -> Result<bool, UpdateError> {
    let step = Step::RefreshBootFiles;
    let target = dir.join(relative);
    if std::fs::read(&target).ok().as_deref() == Some(bytes) {
        return Ok(false);
    }
    let parent = target.parent().unwrap_or(dir).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(io_err(step, "creating", &parent))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temp = parent.join(format!("{name}.new"));
    {
        let mut out = File::create(&temp).map_err(io_err(step, "creating", &temp))?;
        out.write_all(bytes)
            .map_err(io_err(step, "writing", &temp))?;
        out.sync_all().map_err(io_err(step, "flushing", &temp))?;
    }
    std::fs::rename(&temp, &target).map_err(io_err(step, "replacing", &target))?;
    File::open(&target)
        .and_then(|f| f.sync_all())
        .map_err(io_err(step, "flushing", &target))?;
    File::open(&parent)
        .and_then(|d| d.sync_all())
        .map_err(io_err(step, "flushing", &parent))?;
    Ok(true)
}

fn remove_if_present(dir: &Path, name: &str, step: Step) -> Result<(), UpdateError> {
    let path = dir.join(name);
    match std::fs::remove_file(&path) {
        Ok(()) => sync_dir(dir, step),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(step, "removing", &path)(e)),
    }
}

/// Flushes files by name, then their directory. On FAT a file's directory entry (first
/// cluster, size) is written with the file's inode, so renamed files are flushed themselves.
fn sync_files(dir: &Path, names: &[&str], step: Step) -> Result<(), UpdateError> {
    for name in names {
        let path = dir.join(name);
        File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(io_err(step, "flushing", &path))?;
    }
    sync_dir(dir, step)
}

fn sync_dir(dir: &Path, step: Step) -> Result<(), UpdateError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(step, "flushing the directory", dir))
}

/// Exchanges two names in `dir` in one step (`renameat2` with `RENAME_EXCHANGE`).
fn exchange(dir: &Path, a: &str, b: &str) -> std::io::Result<()> {
    let handle = File::open(dir)?;
    let fd = handle.as_raw_fd();
    let a = CString::new(a).map_err(std::io::Error::other)?;
    let b = CString::new(b).map_err(std::io::Error::other)?;
    // SAFETY: both names are valid NUL-terminated strings and `fd` is an open directory
    // that outlives the call.
    let result = unsafe { libc::renameat2(fd, a.as_ptr(), fd, b.as_ptr(), libc::RENAME_EXCHANGE) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Checks with two small files that `dir` supports [`exchange`], before anything is changed.
fn check_exchange(dir: &Path) -> Result<(), UpdateError> {
    let names = [".genpack-exchange-a", ".genpack-exchange-b"];
    for name in names {
        let path = dir.join(name);
        std::fs::write(&path, name.as_bytes()).map_err(io_err(Step::Verify, "writing", &path))?;
    }
    let result = exchange(dir, names[0], names[1]);
    for name in names {
        let _ = std::fs::remove_file(dir.join(name));
    }
    result.map_err(|source| match source.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {
            UpdateError::NoAtomicExchange {
                dir: dir.to_path_buf(),
                source,
            }
        }
        _ => io_err(Step::Verify, "exchanging test files in", dir)(source),
    })
}

struct FsStats {
    available: u64,
    is_fat: bool,
}

fn statfs(dir: &Path) -> std::io::Result<FsStats> {
    let path = CString::new(dir.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let mut stats: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stats` is a valid, writable statfs struct.
    if unsafe { libc::statfs(path.as_ptr(), &mut stats) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(FsStats {
        available: stats.f_bavail as u64 * stats.f_bsize as u64,
        is_fat: stats.f_type as i64 == MSDOS_SUPER_MAGIC,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_volume_is_read_from_the_kernel_command_line_of_grub_cfg() {
        let fat = BootVolume::Fat(VolumeId(0x1234_abcd));
        assert_eq!(boot_volume_in(&grub_cfg_for(fat)), Some(fat));
        let current = grub_cfg_for(BootVolume::Current);
        assert_eq!(boot_volume_in(&current), Some(BootVolume::Current));
        assert_eq!(
            boot_volume_in("linux /boot/kernel root=systemimg:auto"),
            None
        );
    }

    #[test]
    fn exchange_swaps_contents_of_two_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "first").unwrap();
        std::fs::write(dir.path().join("b"), "second").unwrap();
        exchange(dir.path(), "a", "b").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a")).unwrap(),
            "second"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b")).unwrap(),
            "first"
        );
    }
}
