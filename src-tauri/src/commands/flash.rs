//! The Flash step: lists the drives that may be written (live, with hotplug), writes an image
//! to the drives the user confirmed (one or several at once, each with its own outcome) and
//! restores sticks through the engine's one drive path
//! (`genpack_install::drive`, which the `genpack` command uses too), exports files, ejects,
//! and opens the system.ini of an inserted stick.
//!
//! Every long operation runs on a blocking thread and reports through a
//! [`tauri::ipc::Channel`]; the one write at a time is cancelled through a flag.

use crate::error::{CommandError, CommandResult};
use genpack_drive::{drives, Confirmation, Drive, Refusal};
use genpack_install::drive::{
    inspect_image, restore_drive, write_to_drives, DriveControl, DriveProgress, DriveWriteReport,
    DrivesWrite, ImageFile, RestoreReport,
};
use genpack_install::{ExportFormat, InstallOptions, VolumeLabel};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::ipc::Channel;
use ts_rs::TS;

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
            return Err(CommandError::invalid(
                "a drive is being written already; wait for it or cancel it",
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
#[derive(Debug, Clone, Serialize, TS)]
pub struct DriveChoice {
    /// Device node, e.g. `/dev/sdb`.
    pub path: PathBuf,
    /// What to show and confirm: `"SanDisk Ultra, 14.9 GiB (/dev/sdb)"`.
    pub description: String,
    /// Vendor and model (for a loop device: its backing file), or the bus when unknown.
    pub name: String,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
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

impl From<&Drive> for DriveChoice {
    fn from(drive: &Drive) -> Self {
        DriveChoice {
            path: drive.path.clone(),
            description: drive.description(),
            name: drive.display_name(),
            vendor: drive.vendor.clone(),
            model: drive.model.clone(),
            serial: drive.serial.clone(),
            size: drive.size,
            size_text: genpack_util::human_size(drive.size),
            bus: drive.bus.to_string(),
            removable: drive.removable,
            backing_file: drive.backing_file.clone(),
            diskseq: drive.diskseq,
            labels: drive.labels(),
        }
    }
}

/// The drives to offer, and how many internal drives the "show all" switch would add.
#[derive(Debug, Serialize, TS)]
pub struct DriveList {
    pub drives: Vec<DriveChoice>,
    /// Internal disks left out because all drives are not shown.
    pub hidden_internal: usize,
}

/// The drives to offer now.
#[tauri::command]
pub async fn flash_drives(show_all: bool) -> CommandResult<DriveList> {
    tauri::async_runtime::spawn_blocking(move || {
        let offered = drives::offered(drives::list()?, show_all);
        Ok(DriveList {
            drives: offered.drives.iter().map(DriveChoice::from).collect(),
            hidden_internal: offered.hidden_internal,
        })
    })
    .await
    .map_err(|error| CommandError::stopped("drive listing", error))?
}

/// A drive came, went or changed: the window lists the drives again.
#[derive(Debug, Clone, Serialize, TS)]
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
    let (watcher, receiver) = genpack_drive::Watcher::start()?;
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

/// How the image is laid out on the drive or in an exported file, as the window chose it.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(rename = "FlashLayout")]
pub struct Layout {
    /// A system.ini to put next to the image on the boot partition.
    pub system_ini: Option<PathBuf>,
    /// FAT volume label of the boot partition; the engine checks it.
    pub label: Option<String>,
    /// Add a data partition filling the rest of the drive (kept across image updates).
    #[serde(default)]
    pub data_partition: bool,
    /// The partition table, which decides the firmware that boots it.
    #[serde(default)]
    pub table: genpack_install::Layout,
}

impl Layout {
    fn install_options(&self) -> CommandResult<InstallOptions> {
        let label = match self.label.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(VolumeLabel::parse(text)?),
        };
        Ok(InstallOptions {
            system_ini: self.system_ini.clone(),
            label,
            data_partition: self.data_partition,
            layout: self.table,
            ..InstallOptions::default()
        })
    }
}

/// Checks a boot partition label as the user types it: `None` when it is fine, else why not.
#[tauri::command]
pub fn flash_check_label(label: String) -> Option<String> {
    if label.trim().is_empty() {
        return None;
    }
    VolumeLabel::parse(&label)
        .err()
        .map(|error| error.to_string())
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
    settings_draft(&genpack_util::cache_root(), source.as_deref())
}

fn settings_draft(cache: &Path, source: Option<&Path>) -> CommandResult<PathBuf> {
    let draft = cache.join("flash").join("settings").join("system.ini");
    let text = match source {
        Some(path) => {
            std::fs::read(path).map_err(|source| CommandError::io("read", path, source))?
        }
        None => Vec::new(),
    };
    write_copy(&draft, &text)?;
    Ok(draft)
}

/// Writes a working copy for the editor, atomically.
fn write_copy(path: &Path, bytes: &[u8]) -> CommandResult<()> {
    let options = genpack_util::AtomicOptions {
        create_parents: true,
        ..Default::default()
    };
    genpack_util::write_atomic_with(path, bytes, options)
        .map_err(|source| CommandError::io("write", path, source))
}

/// The drive as the user saw it in the picker when they confirmed it.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct SeenDrive {
    /// Its device node.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The medium's sequence number, when the kernel gives one.
    pub diskseq: Option<u64>,
    /// Model and serial number, when known.
    pub model: Option<String>,
    pub serial: Option<String>,
}

impl SeenDrive {
    /// What the user confirmed; internal disks only when they asked to see all drives.
    fn confirmation(&self, show_all: bool) -> Confirmation {
        Confirmation::new(&self.path, self.size, show_all)
            .with_medium(self.diskseq)
            .with_identity(self.model.clone(), self.serial.clone())
    }
}

/// What to write where: the drives as the user confirmed them.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct FlashRequest {
    /// A genpack image (.squashfs), a ZIP genpack exported, or a disk image (.img, .iso,
    /// compressed .img.xz, .img.zst, .img.gz), as [`flash_image`] tells.
    pub image: PathBuf,
    /// The confirmed drives: the image is read once and written to all of them at once.
    pub drives: Vec<SeenDrive>,
    /// The user switched on "show all drives" (internal disks may be written).
    pub show_all: bool,
    #[serde(default)]
    pub layout: Layout,
}

fn control(cancel: Option<Arc<AtomicBool>>, progress: Channel<DriveProgress>) -> DriveControl {
    DriveControl {
        cancel,
        // A closed window drops the channel; the write goes on.
        progress: Some(Box::new(move |event: &DriveProgress| {
            let _ = progress.send(event.clone());
        })),
    }
}

/// What happened to one drive of a write.
#[derive(Debug, Serialize, TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StickOutcome {
    /// Written and read back: every byte verified.
    Written {
        device: PathBuf,
        report: DriveWriteReport,
    },
    /// This drive failed (it has no partition table now); the others went on.
    Failed {
        device: PathBuf,
        error: CommandError,
    },
}

/// What kind of image `image` is and how much room it needs on a drive.
#[tauri::command]
pub async fn flash_image(image: PathBuf) -> CommandResult<ImageFile> {
    tauri::async_runtime::spawn_blocking(move || Ok(inspect_image(&image)?))
        .await
        .map_err(|error| CommandError::stopped("image reader", error))?
}

/// Lays the image out and writes it to every confirmed drive at once, partition table last,
/// then reads each back. Returns when all are done (each with its own outcome), or fails as a
/// whole when nothing was written (the image cannot be read or laid out, its checksum is
/// wrong, or the user cancelled before writing). [`flash_cancel`] stops it.
#[tauri::command]
pub async fn flash_write(
    flashes: tauri::State<'_, Arc<Flashes>>,
    request: FlashRequest,
    progress: Channel<DriveProgress>,
) -> CommandResult<Vec<StickOutcome>> {
    if request.drives.is_empty() {
        return Err(CommandError::invalid("choose at least one drive to write"));
    }
    let cancel = flashes.start()?;
    let flashes = Arc::clone(&*flashes);
    let outcome = tauri::async_runtime::spawn_blocking(move || {
        let write = DrivesWrite {
            image: request.image.clone(),
            drives: request
                .drives
                .iter()
                .map(|drive| drive.confirmation(request.show_all))
                .collect(),
            options: request.layout.install_options()?,
            sha256: None,
        };
        let outcomes = write_to_drives(&write, control(Some(cancel), progress))?;
        Ok(outcomes
            .into_iter()
            .map(|outcome| match outcome.result {
                Ok(report) => StickOutcome::Written {
                    device: outcome.device,
                    report,
                },
                Err(error) => StickOutcome::Failed {
                    device: outcome.device,
                    error: error.into(),
                },
            })
            .collect())
    })
    .await;
    flashes.finish();
    outcome.map_err(|error| CommandError::stopped("write thread", error))?
}

/// Puts the confirmed stick back to everyday use: one empty FAT32 partition over all of it.
#[tauri::command]
pub async fn flash_restore(
    flashes: tauri::State<'_, Arc<Flashes>>,
    drive: SeenDrive,
    show_all: bool,
    progress: Channel<DriveProgress>,
) -> CommandResult<RestoreReport> {
    let cancel = flashes.start()?;
    let flashes = Arc::clone(&*flashes);
    let outcome = tauri::async_runtime::spawn_blocking(move || {
        Ok(restore_drive(
            &drive.confirmation(show_all),
            control(Some(cancel), progress),
        )?)
    })
    .await;
    flashes.finish();
    outcome.map_err(|error| CommandError::stopped("restore thread", error))?
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
    tauri::async_runtime::spawn_blocking(move || {
        let options = layout.install_options()?;
        Ok(genpack_install::export(
            &image,
            &destination,
            format,
            &options,
        )?)
    })
    .await
    .map_err(|error| CommandError::stopped("export thread", error))?
}

/// What ejecting did, for the user.
#[derive(Debug, Serialize, TS)]
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
    .map_err(|error| CommandError::stopped("eject thread", error))?
}

/// The system.ini of a stick, copied out for the editor.
#[derive(Debug, Serialize, TS)]
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
    let drive = drives::probe(path)?;
    match drive.refusal(true) {
        Some(reason @ (Refusal::HoldsRoot | Refusal::Mounted { .. } | Refusal::InUse { .. })) => {
            Err(CommandError::invalid(format!(
                "{}: cannot open its settings: {reason}",
                path.display()
            )))
        }
        _ => Ok(drive),
    }
}

fn stick_copy_path(drive: &Drive) -> PathBuf {
    genpack_util::cache_root()
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
            .map_err(|error| CommandError::new(crate::error::ErrorKind::Ini, error))?;
        let copy = stick_copy_path(&stick);
        write_copy(&copy, text.as_deref().unwrap_or("").as_bytes())?;
        Ok(StickIni {
            drive,
            path: copy,
            existed: text.is_some(),
        })
    })
    .await
    .map_err(|error| CommandError::stopped("stick reader", error))?
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
            .map_err(|error| CommandError::new(crate::error::ErrorKind::Ini, error))?;
        Ok(written.changed)
    })
    .await
    .map_err(|error| CommandError::stopped("stick writer", error))?
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_window_names_formats_and_tables_as_the_engine_reads_them() {
        let names = serde_json::to_value(flash_export_formats()).unwrap();
        assert_eq!(names, serde_json::json!(["disk", "iso", "zip"]));
        let layout: Layout =
            serde_json::from_str(r#"{ "system_ini": null, "label": " " }"#).unwrap();
        let options = layout.install_options().unwrap();
        assert_eq!(options.label, None);
        assert!(!options.data_partition);
        assert_eq!(options.layout, genpack_install::Layout::Auto);
        let layout: Layout = serde_json::from_str(
            r#"{ "system_ini": null, "label": "stick", "data_partition": false, "table": "superfloppy" }"#,
        )
        .unwrap();
        let options = layout.install_options().unwrap();
        assert_eq!(options.layout, genpack_install::Layout::Superfloppy);
        assert_eq!(
            options.label.map(|l| l.to_string()).as_deref(),
            Some("STICK")
        );
    }

    #[test]
    fn a_label_fat_cannot_hold_is_refused_with_the_rule() {
        assert_eq!(flash_check_label("my stick".into()), None);
        let why = flash_check_label("a*b".into()).unwrap();
        assert!(
            why.contains("'*'") && why.contains("at most 11 characters"),
            "{why}"
        );
        let layout = Layout {
            label: Some("much too long".into()),
            ..Layout::default()
        };
        let error = layout.install_options().unwrap_err();
        assert_eq!(error.kind, crate::error::ErrorKind::Invalid);
        assert!(error.message.contains("13 characters"), "{}", error.message);
    }

    #[test]
    fn the_confirmation_is_what_the_user_saw_not_a_fresh_probe() {
        let seen = SeenDrive {
            path: PathBuf::from("/dev/sdz"),
            size: 16_000_000_000,
            diskseq: Some(7),
            model: Some("Ultra".into()),
            serial: Some("4C53".into()),
        };
        let confirmation = seen.confirmation(false);
        assert_eq!(confirmation.path(), Path::new("/dev/sdz"));
        assert_eq!(confirmation.size(), 16_000_000_000);
        assert_eq!(
            confirmation,
            Confirmation::new("/dev/sdz", 16_000_000_000, false)
                .with_medium(Some(7))
                .with_identity(Some("Ultra".into()), Some("4C53".into()))
        );
    }
}
