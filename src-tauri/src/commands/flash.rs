//! The Flash step: lists the drives that may be written (live, with hotplug), lays an image
//! out as a bootable disk image and writes it to the confirmed drive with read-back
//! verification, exports disk images, ejects, and opens the system.ini of an inserted stick.
//!
//! Every long operation runs on a blocking thread and reports through a
//! [`tauri::ipc::Channel`]; the one write at a time is cancelled through a flag.

use crate::error::{CommandError, CommandResult};
use genpack_drive::drives::{self, human_size};
use genpack_drive::{Confirmation, Drive, FlashError, FlashOptions, Flasher, Image, Refusal};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::ipc::Channel;

/// The write running now (one at a time) and the drive watcher's generation.
#[derive(Default)]
pub struct Flashes {
    cancel: Mutex<Option<Arc<AtomicBool>>>,
    /// The current watch's number, bumped by every watch and unwatch: a watcher thread stops
    /// when its number is no longer current.
    watch_generation: Arc<AtomicU64>,
}

impl Flashes {
    fn start(&self) -> CommandResult<Arc<AtomicBool>> {
        let mut running = self
            .cancel
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if running.is_some() {
            return Err(CommandError::Invalid(
                "a drive is being written already; wait for it or cancel it".into(),
            ));
        }
        let flag = Arc::new(AtomicBool::new(false));
        *running = Some(Arc::clone(&flag));
        Ok(flag)
    }

    fn finish(&self) {
        *self
            .cancel
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = None;
    }

    fn cancel(&self) -> bool {
        let running = self
            .cancel
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match running.as_ref() {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

/// A drive as the picker shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DriveChoice {
    /// Device node, e.g. `/dev/sdb`.
    pub path: PathBuf,
    /// What to show and confirm: `"SanDisk Ultra, 14.9 GiB (/dev/sdb)"`.
    pub description: String,
    /// Vendor and model (for a loop device: its backing file), or the bus when unknown.
    pub name: String,
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// Size in bytes, and for people (`14.9 GiB`).
    pub size: u64,
    pub size_text: String,
    /// `usb`, `mmc`, `ata`, `nvme`, `loop`...
    pub bus: String,
    /// `false` for an internal disk, offered only when all drives are shown.
    pub removable: bool,
    /// For a loop device: the file behind it.
    pub backing_file: Option<PathBuf>,
    /// Changes when another medium appears at this path; the write checks it.
    pub diskseq: Option<u64>,
    /// Labels of the filesystems on it now, which a write erases.
    pub labels: Vec<String>,
}

impl DriveChoice {
    fn new(drive: &Drive) -> DriveChoice {
        let labels = drive
            .filesystem
            .iter()
            .chain(
                drive
                    .partitions
                    .iter()
                    .filter_map(|p| p.filesystem.as_ref()),
            )
            .filter_map(|fs| fs.label.clone())
            .collect();
        DriveChoice {
            path: drive.path.clone(),
            description: drive.description(),
            name: display_name(drive),
            vendor: drive.vendor.clone(),
            model: drive.model.clone(),
            size: drive.size,
            size_text: human_size(drive.size),
            bus: drive.bus.to_string(),
            removable: drive.removable,
            backing_file: drive.backing_file.clone(),
            diskseq: drive.diskseq,
            labels,
        }
    }
}

fn display_name(drive: &Drive) -> String {
    match (&drive.vendor, &drive.model) {
        (Some(vendor), Some(model)) if !model.starts_with(vendor.as_str()) => {
            format!("{vendor} {model}")
        }
        (_, Some(model)) => model.clone(),
        (Some(vendor), None) => vendor.clone(),
        (None, None) => format!("{} disk", drive.bus),
    }
}

/// The drives to offer, and how many internal drives the "show all" switch would add.
#[derive(Debug, Serialize)]
pub struct DriveList {
    pub drives: Vec<DriveChoice>,
    /// Internal disks left out because all drives are not shown.
    pub hidden_internal: usize,
}

/// The drives that may be written: never the disk holding `/`, nothing mounted, stacked on,
/// read-only or empty; internal disks only with `show_all`.
pub fn offered_drives(all: &[Drive], show_all: bool) -> DriveList {
    DriveList {
        drives: all
            .iter()
            .filter(|drive| drive.is_offerable(show_all))
            .map(DriveChoice::new)
            .collect(),
        hidden_internal: all
            .iter()
            .filter(|drive| drive.refusal(false) == Some(Refusal::Fixed) && !show_all)
            .count(),
    }
}

fn drive_error(error: impl std::fmt::Display) -> CommandError {
    CommandError::Invalid(error.to_string())
}

/// The drives to offer now.
#[tauri::command]
pub async fn flash_drives(show_all: bool) -> CommandResult<DriveList> {
    tauri::async_runtime::spawn_blocking(move || {
        let all = drives::list().map_err(drive_error)?;
        Ok(offered_drives(&all, show_all))
    })
    .await
    .map_err(|error| CommandError::Invalid(format!("the drive listing stopped: {error}")))?
}

/// A drive came, went or changed: the window lists the drives again.
#[derive(Debug, Clone, Serialize)]
pub struct DrivesChanged {
    /// The device node concerned.
    pub path: PathBuf,
}

/// Follows hotplug: sends a [`DrivesChanged`] for every drive added, changed or removed,
/// until [`flash_unwatch_drives`] or the next `flash_watch_drives`. Returns the watch's
/// number, for [`flash_unwatch_drives`].
#[tauri::command]
pub fn flash_watch_drives(
    flashes: tauri::State<'_, Arc<Flashes>>,
    events: Channel<DrivesChanged>,
) -> CommandResult<u64> {
    let generation = Arc::clone(&flashes.watch_generation);
    let mine = generation.fetch_add(1, Ordering::SeqCst) + 1;
    let (watcher, receiver) = genpack_drive::Watcher::start().map_err(drive_error)?;
    std::thread::Builder::new()
        .name("flash-drive-watch".into())
        .spawn(move || {
            // Dropping the watcher at the end stops its thread.
            let _watcher = watcher;
            while generation.load(Ordering::SeqCst) == mine {
                match receiver.recv_timeout(Duration::from_millis(500)) {
                    Ok(event) => {
                        let path = match event {
                            genpack_drive::DriveEvent::Added(drive)
                            | genpack_drive::DriveEvent::Changed(drive) => drive.path,
                            genpack_drive::DriveEvent::Removed { path } => path,
                        };
                        if events.send(DrivesChanged { path }).is_err() {
                            break;
                        }
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        })
        .map_err(|source| CommandError::io("start watching", Path::new("drives"), source))?;
    Ok(mine)
}

/// Stops the watch numbered `watch`, unless a newer one replaced it already.
#[tauri::command]
pub fn flash_unwatch_drives(flashes: tauri::State<'_, Arc<Flashes>>, watch: u64) {
    let _ = flashes.watch_generation.compare_exchange(
        watch,
        watch + 1,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
}

/// How the image is laid out on the drive or in an exported file. New layout options go here
/// and into [`lay_out`] / [`export_file`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Layout {
    /// A system.ini to put next to the image on the boot partition.
    pub system_ini: Option<PathBuf>,
    /// FAT volume label of the boot partition (at most 11 characters).
    pub label: Option<String>,
    /// Add a data partition filling the rest of the drive (kept across image updates).
    #[serde(default)]
    pub data_partition: bool,
    /// The partition table, which decides the firmware that boots it.
    #[serde(default)]
    pub table: TableChoice,
}

/// The partition table of a stick or disk image, as the Flash step offers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableChoice {
    /// MBR (GPT above 2 TiB or on disks with 4096-byte sectors): BIOS and UEFI.
    #[default]
    Auto,
    /// GPT with a BIOS boot partition: BIOS and UEFI.
    Gpt,
    /// No partition table, FAT32 over the whole drive: UEFI only, no data partition.
    Superfloppy,
}

impl From<TableChoice> for genpack_install::Layout {
    fn from(choice: TableChoice) -> Self {
        match choice {
            TableChoice::Auto => genpack_install::Layout::Auto,
            TableChoice::Gpt => genpack_install::Layout::Gpt,
            TableChoice::Superfloppy => genpack_install::Layout::Superfloppy,
        }
    }
}

impl Layout {
    fn label(&self) -> Option<String> {
        self.label
            .as_deref()
            .map(str::trim)
            .filter(|label| !label.is_empty())
            .map(str::to_string)
    }
}

fn install_error(error: genpack_install::InstallError) -> CommandError {
    CommandError::Invalid(error.to_string())
}

/// What a disk image is laid out for: the drive it will be written to, or a file.
#[derive(Debug, Clone, Copy, Default)]
struct DiskShape {
    /// Size in bytes; just large enough when `None`.
    size: Option<u64>,
    /// Logical sector size of the drive (512 when `None`).
    sector_size: Option<u64>,
}

/// Lays `image` out as a bootable disk image at `disk` (a new or empty file) of `shape`;
/// returns its size.
///
/// The one place the studio lays out disks with genpack-install.
fn lay_out(image: &Path, disk: &Path, layout: &Layout, shape: DiskShape) -> CommandResult<u64> {
    let options = genpack_install::InstallOptions {
        system_ini: layout.system_ini.clone(),
        label: layout.label(),
        data_partition: layout.data_partition,
        layout: layout.table.into(),
        size: shape.size,
        sector_size: shape.sector_size,
        ..Default::default()
    };
    let report =
        genpack_install::install_to_disk_image(image, disk, &options).map_err(install_error)?;
    Ok(report.disk_size)
}

/// The file formats [`flash_export`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// A raw disk image, as written to a stick.
    Disk,
    /// A hybrid ISO (optical media, virtual CD drives, or `dd` to a stick).
    Iso,
    /// The boot partition's files, to unpack onto any FAT32 stick.
    Zip,
}

impl ExportFormat {
    const ALL: [ExportFormat; 3] = [ExportFormat::Disk, ExportFormat::Iso, ExportFormat::Zip];
}

/// Writes `image` as `format` to `out` (a new or empty file); returns its size.
fn export_file(
    image: &Path,
    out: &Path,
    format: ExportFormat,
    layout: &Layout,
) -> CommandResult<u64> {
    match format {
        ExportFormat::Disk => lay_out(image, out, layout, DiskShape::default()),
        ExportFormat::Iso => {
            let options = genpack_install::IsoOptions {
                system_ini: layout.system_ini.clone(),
                label: layout.label(),
                ..Default::default()
            };
            let report = genpack_install::make_iso(image, out, &options).map_err(install_error)?;
            Ok(report.size)
        }
        ExportFormat::Zip => {
            let options = genpack_install::ZipOptions {
                system_ini: layout.system_ini.clone(),
                ..Default::default()
            };
            let report = genpack_install::make_zip(image, out, &options).map_err(install_error)?;
            Ok(report.size)
        }
    }
}

/// The formats [`flash_export`] can write.
#[tauri::command]
pub fn flash_export_formats() -> Vec<ExportFormat> {
    ExportFormat::ALL.to_vec()
}

/// Starts the settings for a new stick: a working copy of `source` (the project's
/// system.ini), or an empty file without one, which the editor opens and the write puts on
/// the stick. The project's own file is not changed.
#[tauri::command]
pub fn flash_settings_draft(source: Option<PathBuf>) -> CommandResult<PathBuf> {
    settings_draft(&genpack_build::cache_root(), source.as_deref())
}

fn settings_draft(cache: &Path, source: Option<&Path>) -> CommandResult<PathBuf> {
    let draft = cache.join("flash").join("settings").join("system.ini");
    let text = match source {
        Some(path) => {
            std::fs::read(path).map_err(|source| CommandError::io("read", path, source))?
        }
        None => Vec::new(),
    };
    write_atomically(&draft, &text)?;
    Ok(draft)
}

/// Writes `bytes` to `path` through a temporary file in the same folder.
fn write_atomically(path: &Path, bytes: &[u8]) -> CommandResult<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| CommandError::io("create", dir, source))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .map_err(|source| CommandError::io("create a file in", dir, source))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|source| CommandError::io("write", file.path(), source))?;
    file.persist(path)
        .map_err(|error| CommandError::io("write", path, error.error))?;
    Ok(())
}

/// What to write where: the drive as the user confirmed it.
#[derive(Debug, Clone, Deserialize)]
pub struct FlashRequest {
    /// The genpack image (.squashfs).
    pub image: PathBuf,
    /// The confirmed drive's device node, size and medium sequence number.
    pub drive: PathBuf,
    pub size: u64,
    pub diskseq: Option<u64>,
    /// The user switched on "show all drives" (internal disks may be written).
    pub show_all: bool,
    #[serde(default)]
    pub layout: Layout,
}

/// One progress report of a write.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FlashProgress {
    /// Laying the image out as a disk image (boot loader, FAT, system.img).
    Layout,
    /// Writing to or reading back from the drive.
    Drive {
        /// `preparing`, `writing`, `verifying`, `finishing`.
        phase: genpack_drive::Phase,
        bytes_done: u64,
        bytes_total: u64,
        bytes_per_second: f64,
        /// Seconds left in this phase at the recent speed.
        eta_secs: Option<f64>,
    },
}

/// What a finished write did.
#[derive(Debug, Serialize)]
pub struct FlashResult {
    pub drive: String,
    pub device: PathBuf,
    /// Bytes of the disk image written, and read back and compared.
    pub image_bytes: u64,
    pub bytes_verified: u64,
    pub write_seconds: f64,
    pub verify_seconds: f64,
}

/// Checks that the drive at `request.drive` is still the one confirmed and may be written.
fn confirmed_drive(request: &FlashRequest) -> CommandResult<Drive> {
    let drive = drives::probe(&request.drive).map_err(drive_error)?;
    let changed = drive.size != request.size
        || (request.diskseq.is_some() && drive.diskseq != request.diskseq);
    if changed {
        return Err(CommandError::Invalid(format!(
            "{} is not the drive that was confirmed any more (it is now {}); pick the drive again",
            request.drive.display(),
            drive.description()
        )));
    }
    if let Some(reason) = drive.refusal(request.show_all) {
        return Err(CommandError::Invalid(format!(
            "{}: refusing to write: {reason}",
            request.drive.display()
        )));
    }
    Ok(drive)
}

/// A folder for disk images being made, next to the build cache.
fn scratch_dir() -> CommandResult<tempfile::TempDir> {
    let parent = genpack_build::cache_root().join("flash");
    std::fs::create_dir_all(&parent)
        .map_err(|source| CommandError::io("create", &parent, source))?;
    tempfile::Builder::new()
        .prefix("disk-")
        .tempdir_in(&parent)
        .map_err(|source| CommandError::io("create a folder in", &parent, source))
}

fn cancelled_or(error: FlashError) -> CommandError {
    match error {
        FlashError::Cancelled { .. } => CommandError::Cancelled(
            "writing; the drive has no partition table now, so nothing will boot from it".into(),
        ),
        other => CommandError::Invalid(other.to_string()),
    }
}

fn write(
    request: &FlashRequest,
    cancel: &Arc<AtomicBool>,
    progress: &Channel<FlashProgress>,
) -> CommandResult<FlashResult> {
    let drive = confirmed_drive(request)?;
    // A closed window drops the channel; the write goes on.
    let _ = progress.send(FlashProgress::Layout);
    let scratch = scratch_dir()?;
    let disk = scratch.path().join("disk.img");
    // A data partition fills the drive, and GPT keeps a copy of itself at the drive's end,
    // so the disk image takes the drive's size then. The partition table and FAT count in
    // the drive's own sectors.
    let whole_drive = request.layout.data_partition || request.layout.table == TableChoice::Gpt;
    let shape = DiskShape {
        size: whole_drive.then_some(drive.size),
        sector_size: Some(u64::from(drive.logical_sector_size)),
    };
    lay_out(&request.image, &disk, &request.layout, shape)?;
    if cancel.load(Ordering::Relaxed) {
        return Err(CommandError::Cancelled(
            "preparing the disk image; the drive was not touched".into(),
        ));
    }
    let image = Image::open(&disk).map_err(cancelled_or)?;
    let mut flasher =
        Flasher::open(&drive.path, Confirmation::for_drive(&drive)).map_err(cancelled_or)?;
    let channel = progress.clone();
    let options = FlashOptions {
        cancel: Some(Arc::clone(cancel)),
        progress: Some(Box::new(move |event: &genpack_drive::Progress| {
            let _ = channel.send(FlashProgress::Drive {
                phase: event.phase,
                bytes_done: event.bytes_done,
                bytes_total: event.bytes_total,
                bytes_per_second: event.bytes_per_second,
                eta_secs: event.eta.map(|eta| eta.as_secs_f64()),
            });
        })),
    };
    let report = flasher.write_image(&image, options).map_err(cancelled_or)?;
    Ok(FlashResult {
        drive: drive.description(),
        device: report.device,
        image_bytes: report.image_len,
        bytes_verified: report.bytes_verified,
        write_seconds: report.write_time.as_secs_f64(),
        verify_seconds: report.verify_time.as_secs_f64(),
    })
}

/// Lays the image out and writes it to the confirmed drive, partition table last, then
/// reads it back. Returns when done, failed or cancelled (with [`flash_cancel`]).
#[tauri::command]
pub async fn flash_write(
    flashes: tauri::State<'_, Arc<Flashes>>,
    request: FlashRequest,
    progress: Channel<FlashProgress>,
) -> CommandResult<FlashResult> {
    let cancel = flashes.start()?;
    let flashes = Arc::clone(&*flashes);
    let outcome =
        tauri::async_runtime::spawn_blocking(move || write(&request, &cancel, &progress)).await;
    flashes.finish();
    outcome.map_err(|error| CommandError::Invalid(format!("the write thread stopped: {error}")))?
}

/// Asks the running write to stop at the next block; `false` when none runs.
#[tauri::command]
pub fn flash_cancel(flashes: tauri::State<'_, Arc<Flashes>>) -> bool {
    flashes.cancel()
}

/// Writes `image` as `format` to `destination`, replacing it only once complete; returns
/// the file's size.
#[tauri::command]
pub async fn flash_export(
    image: PathBuf,
    destination: PathBuf,
    format: ExportFormat,
    layout: Layout,
) -> CommandResult<u64> {
    tauri::async_runtime::spawn_blocking(move || export(&image, &destination, format, &layout))
        .await
        .map_err(|error| CommandError::Invalid(format!("the export thread stopped: {error}")))?
}

fn export(
    image: &Path,
    destination: &Path,
    format: ExportFormat,
    layout: &Layout,
) -> CommandResult<u64> {
    let dir = destination
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let partial = tempfile::Builder::new()
        .prefix(".export-")
        .tempfile_in(dir)
        .map_err(|source| CommandError::io("create a file in", dir, source))?;
    let bytes = export_file(image, partial.path(), format, layout)?;
    partial
        .as_file()
        .sync_all()
        .map_err(|source| CommandError::io("flush", partial.path(), source))?;
    partial
        .persist(destination)
        .map_err(|error| CommandError::io("write", destination, error.error))?;
    Ok(bytes)
}

/// What ejecting did, for the user.
#[derive(Debug, Serialize)]
pub struct EjectResult {
    /// Whether the drive was ejected (or powered off) by UDisks2.
    pub ejected: bool,
    pub message: String,
}

/// Ejects and powers off the written drive through UDisks2; when that is not possible,
/// says so and what to do instead.
#[tauri::command]
pub async fn flash_eject(drive: PathBuf) -> CommandResult<EjectResult> {
    tauri::async_runtime::spawn_blocking(move || {
        use genpack_drive::Ejected;
        Ok(match genpack_drive::eject::eject(&drive) {
            Ok(Ejected::PoweredOff) => EjectResult {
                ejected: true,
                message: format!("{} is powered off: you can unplug it now.", drive.display()),
            },
            Ok(Ejected::Ejected) => EjectResult {
                ejected: true,
                message: format!("{} is ejected: you can unplug it now.", drive.display()),
            },
            Ok(Ejected::NoDrive) => EjectResult {
                ejected: false,
                message: format!(
                    "{} is not a physical drive (a loop device): there is nothing to eject. Everything is written.",
                    drive.display()
                ),
            },
            Err(error) => EjectResult {
                ejected: false,
                message: error.to_string(),
            },
        })
    })
    .await
    .map_err(|error| CommandError::Invalid(format!("the eject thread stopped: {error}")))?
}

/// The system.ini of a stick, copied out for the editor.
#[derive(Debug, Serialize)]
pub struct StickIni {
    /// The drive it came from.
    pub drive: PathBuf,
    /// A working copy the editor opens and saves; [`stick_ini_write`] puts it back.
    pub path: PathBuf,
    /// Whether the stick had a system.ini (else the copy starts empty).
    pub existed: bool,
}

/// A stick's boot partition may be read and written only when nothing has it mounted.
fn unmounted_stick(path: &Path) -> CommandResult<Drive> {
    let drive = drives::probe(path).map_err(drive_error)?;
    match drive.refusal(true) {
        Some(reason @ (Refusal::HoldsRoot | Refusal::Mounted { .. } | Refusal::InUse { .. })) => {
            Err(CommandError::Invalid(format!(
                "{}: cannot open its settings: {reason}",
                path.display()
            )))
        }
        _ => Ok(drive),
    }
}

fn stick_copy_path(drive: &Drive) -> PathBuf {
    genpack_build::cache_root()
        .join("flash")
        .join("stick-ini")
        .join(&drive.name)
        .join("system.ini")
}

/// Reads the system.ini from the boot partition of the genpack stick at `drive` (without
/// mounting it) into a working copy for the editor.
#[tauri::command]
pub async fn stick_ini_open(drive: PathBuf) -> CommandResult<StickIni> {
    tauri::async_runtime::spawn_blocking(move || {
        let stick = unmounted_stick(&drive)?;
        let text = genpack_install::boot_ini::read_system_ini_text(&drive)
            .map_err(|error| CommandError::Invalid(error.to_string()))?;
        let copy = stick_copy_path(&stick);
        write_atomically(&copy, text.as_deref().unwrap_or("").as_bytes())?;
        Ok(StickIni {
            drive,
            path: copy,
            existed: text.is_some(),
        })
    })
    .await
    .map_err(|error| CommandError::Invalid(format!("the stick reader stopped: {error}")))?
}

/// Writes the working copy at `path` back to the stick at `drive` as its system.ini (the
/// previous one is kept as system.ini.bak). Returns whether anything changed.
#[tauri::command]
pub async fn stick_ini_write(drive: PathBuf, path: PathBuf) -> CommandResult<bool> {
    tauri::async_runtime::spawn_blocking(move || {
        unmounted_stick(&drive)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|source| CommandError::io("read", &path, source))?;
        let written = genpack_install::boot_ini::replace_system_ini(&drive, &text)
            .map_err(|error| CommandError::Invalid(error.to_string()))?;
        Ok(written.changed)
    })
    .await
    .map_err(|error| CommandError::Invalid(format!("the stick writer stopped: {error}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(name: &str, removable: bool) -> Drive {
        Drive {
            path: PathBuf::from(format!("/dev/{name}")),
            name: name.into(),
            devnum: (8, 0),
            vendor: Some("SanDisk".into()),
            model: Some("Ultra".into()),
            serial: None,
            size: 16_000_000_000,
            logical_sector_size: 512,
            physical_sector_size: 512,
            bus: if removable {
                genpack_drive::Bus::Usb
            } else {
                genpack_drive::Bus::Ata
            },
            removable,
            read_only: false,
            backing_file: None,
            diskseq: Some(7),
            partition_table: None,
            filesystem: None,
            mountpoints: Vec::new(),
            holders: Vec::new(),
            partitions: Vec::new(),
            holds_root: false,
        }
    }

    #[test]
    fn the_root_disk_and_mounted_disks_are_never_offered() {
        let mut root = drive("sda", false);
        root.holds_root = true;
        let mut mounted = drive("sdc", true);
        mounted.mountpoints.push(PathBuf::from("/media/stick"));
        let stick = drive("sdb", true);
        let all = [root, stick, mounted];
        for show_all in [false, true] {
            let offered = offered_drives(&all, show_all);
            let paths: Vec<_> = offered.drives.iter().map(|d| d.path.clone()).collect();
            assert_eq!(paths, [PathBuf::from("/dev/sdb")], "show_all={show_all}");
        }
    }

    #[test]
    fn internal_disks_only_behind_show_all_and_counted_when_hidden() {
        let all = [drive("sda", false), drive("sdb", true)];
        let shown = offered_drives(&all, false);
        assert_eq!(shown.drives.len(), 1);
        assert_eq!(shown.hidden_internal, 1);
        let everything = offered_drives(&all, true);
        assert_eq!(everything.drives.len(), 2);
        assert_eq!(everything.hidden_internal, 0);
        assert!(!everything.drives[0].removable);
    }

    #[test]
    fn a_choice_names_the_drive_and_its_size_for_people() {
        let choice = DriveChoice::new(&drive("sdb", true));
        assert_eq!(choice.name, "SanDisk Ultra");
        assert_eq!(choice.size_text, "14.9 GiB");
        assert_eq!(choice.description, "SanDisk Ultra, 14.9 GiB (/dev/sdb)");
        assert_eq!(choice.bus, "usb");
    }

    #[test]
    fn a_second_write_is_refused_and_cancel_reaches_the_first() {
        let flashes = Flashes::default();
        let flag = flashes.start().unwrap();
        assert!(flashes.start().is_err());
        assert!(flashes.cancel());
        assert!(flag.load(Ordering::Relaxed));
        flashes.finish();
        assert!(!flashes.cancel());
        assert!(flashes.start().is_ok());
    }

    #[test]
    fn the_settings_draft_copies_the_project_file_and_leaves_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let project_ini = dir.path().join("system.ini");
        std::fs::write(&project_ini, "hostname=demo\n").unwrap();
        let draft = settings_draft(&cache, Some(&project_ini)).unwrap();
        assert!(draft.starts_with(&cache));
        assert_ne!(draft, project_ini);
        assert_eq!(std::fs::read_to_string(&draft).unwrap(), "hostname=demo\n");
        std::fs::write(&draft, "hostname=changed\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&project_ini).unwrap(),
            "hostname=demo\n"
        );
        let empty = settings_draft(&cache, None).unwrap();
        assert_eq!(std::fs::read_to_string(empty).unwrap(), "");
    }

    #[test]
    fn export_formats_read_as_the_window_names_them() {
        let names = serde_json::to_value(flash_export_formats()).unwrap();
        assert_eq!(names, serde_json::json!(["disk", "iso", "zip"]));
        let layout: Layout =
            serde_json::from_str(r#"{ "system_ini": null, "label": " " }"#).unwrap();
        assert_eq!(layout.label(), None);
        assert!(!layout.data_partition);
        assert_eq!(layout.table, TableChoice::Auto);
        let layout: Layout = serde_json::from_str(
            r#"{ "system_ini": null, "label": null, "data_partition": false, "table": "superfloppy" }"#,
        )
        .unwrap();
        assert_eq!(
            genpack_install::Layout::from(layout.table),
            genpack_install::Layout::Superfloppy
        );
    }

    #[test]
    fn the_chosen_partition_table_is_the_one_written() {
        let dir = tempfile::tempdir().unwrap();
        let image = tiny_image(dir.path());
        for (table, gpt_signature, starts_at_zero) in [
            (TableChoice::Auto, false, false),
            (TableChoice::Gpt, true, false),
            (TableChoice::Superfloppy, false, true),
        ] {
            let out = dir.path().join(format!("{table:?}.img"));
            let layout = Layout {
                table,
                ..Layout::default()
            };
            export(&image, &out, ExportFormat::Disk, &layout).unwrap();
            let bytes = std::fs::read(&out).unwrap();
            assert_eq!(&bytes[512..520] == b"EFI PART", gpt_signature, "{table:?}");
            let boot = genpack_install::BootPartition::open(&out).unwrap();
            assert_eq!(boot.location().offset == 0, starts_at_zero, "{table:?}");
            assert!(boot.exists("system.img"), "{table:?}");
        }
    }

    /// A small valid genpack image: kernel, initramfs and the metadata the installer reads.
    fn tiny_image(dir: &Path) -> PathBuf {
        let tree = dir.join("tree");
        std::fs::create_dir_all(tree.join("boot")).unwrap();
        std::fs::create_dir_all(tree.join(".genpack")).unwrap();
        std::fs::write(tree.join("boot/kernel"), "kernel").unwrap();
        std::fs::write(tree.join("boot/initramfs"), "initramfs").unwrap();
        std::fs::write(tree.join(".genpack/artifact"), "demo\n").unwrap();
        let image = dir.join("demo.squashfs");
        let status = std::process::Command::new("mksquashfs")
            .arg(&tree)
            .arg(&image)
            .args(["-noappend", "-quiet", "-no-progress"])
            .status()
            .expect("mksquashfs (squashfs-tools) is installed");
        assert!(status.success());
        image
    }

    #[test]
    fn an_exported_disk_image_holds_the_image_and_the_settings_and_nothing_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let image = tiny_image(dir.path());
        let ini = dir.path().join("system.ini");
        std::fs::write(&ini, "hostname=exported\n").unwrap();
        let out_dir = dir.path().join("out");
        std::fs::create_dir(&out_dir).unwrap();
        let out = out_dir.join("demo.img");
        let layout = Layout {
            system_ini: Some(ini),
            label: Some("DEMO".into()),
            data_partition: false,
            table: TableChoice::Auto,
        };
        let bytes = export(&image, &out, ExportFormat::Disk, &layout).unwrap();
        assert_eq!(std::fs::metadata(&out).unwrap().len(), bytes);
        let boot = genpack_install::BootPartition::open(&out).unwrap();
        assert!(boot.exists("system.img"));
        assert_eq!(
            boot.read("system.ini").unwrap().as_deref(),
            Some(&b"hostname=exported\n"[..])
        );
        let left: Vec<_> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left, ["demo.img"]);
    }
}
