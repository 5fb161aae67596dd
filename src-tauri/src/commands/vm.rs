//! The Run step: boots the project's built image in QEMU through `genpack-vm` and shows its
//! screen (noVNC through a one-time-token WebSocket bridge) and serial console (streamed
//! through a channel).

use crate::commands::build::image_path;
use crate::error::{CommandError, CommandResult};
use base64::Engine as _;
use genpack_vm::{
    Boot, ConsoleInput, ConsoleLog, DataDisk, RunState, RuntimeDir, StopOptions, ViewerBridge,
    VmError, VmSpec, VmStatus,
};
use serde::Serialize;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::ipc::Channel;
use ts_rs::TS;

/// Size of the per-project data disk made on first start.
const DATA_DISK_BYTES: u64 = 4 << 30;

/// How much of the console's past a newly opened console view shows.
const CONSOLE_HISTORY_BYTES: u64 = 256 * 1024;

/// How often the console log is checked for new output.
const CONSOLE_POLL: Duration = Duration::from_millis(100);

/// The project's thumbnail: the guest's screen, saved with "Use as thumbnail".
const THUMBNAIL_FILE: &str = "work/thumbnail.png";

/// The window's live connections to the VMs it shows, by VM name: the console follower, the
/// console input and the screen's WebSocket bridge.
#[derive(Default)]
pub struct VmSessions {
    sessions: Mutex<HashMap<String, Session>>,
    /// VMs this window started and has not stopped: stopped when the studio quits.
    started: Mutex<Vec<String>>,
}

#[derive(Default)]
struct Session {
    /// Set to end the thread that streams the console to the window.
    console_stop: Option<Arc<AtomicBool>>,
    /// The one connection that types into the console.
    input: Option<ConsoleInput>,
    /// The screen's bridge; replaced when the viewer reconnects.
    viewer: Option<ViewerBridge>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(stop) = &self.console_stop {
            stop.store(true, Ordering::SeqCst);
        }
    }
}

impl VmSessions {
    fn with<T>(&self, name: &str, action: impl FnOnce(&mut Session) -> T) -> T {
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        action(sessions.entry(name.to_string()).or_default())
    }

    /// Ends every connection to `name` (its VM stopped or is stopping).
    fn close(&self, name: &str) {
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        sessions.remove(name);
        self.started_list().retain(|started| started != name);
    }

    fn started_list(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.started
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Powers off every VM this window started (the power button, then quit after
    /// [`QUIT_STOP_TIMEOUT`]): closing the studio leaves no QEMU behind.
    pub fn stop_all(&self) {
        let names = std::mem::take(&mut *self.started_list());
        for name in names {
            let options = StopOptions {
                force: false,
                timeout: QUIT_STOP_TIMEOUT,
            };
            if let Err(error) = tauri::async_runtime::block_on(genpack_vm::stop(&name, options)) {
                eprintln!("genpack-studio: could not stop the VM {name}: {error}");
            }
            self.close(&name);
        }
    }
}

/// How long a guest may take to power off when the studio quits before QEMU is told to quit.
const QUIT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the console view receives, tagged by `kind`.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConsoleEvent {
    /// Text the guest printed (terminal escapes included).
    Output { text: String },
    /// The VM stopped: no more output will come.
    Closed,
}

/// Where the screen viewer connects.
#[derive(Debug, Serialize, TS)]
pub struct VmViewer {
    /// `ws://127.0.0.1:<port>/vnc/<one-time token>`: valid for one connection.
    pub url: String,
}

/// What "Run in VM" would boot for a project, architecture and variant.
#[derive(Debug, Serialize, TS)]
pub struct VmTarget {
    /// The VM's name (its runtime folder and QEMU `-name`): [`genpack_vm::name_for_image`].
    pub name: String,
    /// The image to boot.
    pub image: PathBuf,
    /// Whether the image has been built.
    pub built: bool,
    /// The project's system.ini handed to the guest, when the project has one.
    pub system_ini: Option<PathBuf>,
    /// The data disk kept between runs unless changes are thrown away.
    pub data_disk: PathBuf,
    /// The image tree of the last build, which boots without packing, when there is one.
    pub tree: Option<PathBuf>,
    /// The tree is newer than the image (or there is no image): running the tree is the
    /// sensible default.
    pub tree_is_newer: bool,
}

/// What a started VM reports at once.
#[derive(Debug, Serialize, TS)]
pub struct VmStarted {
    /// The VM's name.
    pub name: String,
    /// Why this accelerator was chosen ("no /dev/kvm: using TCG").
    pub accel_reason: String,
}

fn vm_error(error: VmError) -> CommandError {
    CommandError::vm(error.to_string())
}

/// The variant a build of `dir` uses (the definition's default when none is chosen); `None`
/// when the definition cannot be read.
fn effective_variant(dir: &Path, arch: &str, variant: Option<String>) -> Option<Option<String>> {
    let project = genpack_def::Project::load(dir).ok()?;
    let arch = arch.parse::<genpack_def::Arch>().ok()?;
    let chosen = variant.filter(|name| !name.is_empty());
    let effective = project.effective(arch, chosen.as_deref()).ok()?;
    Some(effective.variant)
}

fn target(dir: &Path, arch: &str, variant: Option<String>) -> CommandResult<VmTarget> {
    let image = image_path(dir, arch, variant.clone())?;
    let project_dir = image.parent().unwrap_or(dir).to_path_buf();
    let system_ini = Some(project_dir.join("system.ini")).filter(|path| path.is_file());
    let tree = effective_variant(dir, arch, variant)
        .and_then(|variant| genpack_build::image_tree(dir, arch, variant.as_deref()));
    Ok(VmTarget {
        name: genpack_vm::name_for_image(&image),
        built: image.is_file(),
        data_disk: project_dir.join("work").join("vm-data.img"),
        system_ini,
        tree_is_newer: tree.as_ref().is_some_and(|t| !t.packed),
        tree: tree.map(|t| t.path),
        image,
    })
}

/// What "Run in VM" boots for `dir`, `arch` and `variant`.
#[tauri::command]
pub fn vm_target(dir: PathBuf, arch: String, variant: Option<String>) -> CommandResult<VmTarget> {
    target(&dir, &arch, variant)
}

/// Boots the built image of `dir` (or, with `from_tree`, its image tree without packing) with
/// the project's system.ini; returns once QEMU's monitor answers. `volatile` keeps the guest's
/// changes in memory only, else they go to the project's data disk.
#[tauri::command]
pub async fn vm_start(
    sessions: tauri::State<'_, Arc<VmSessions>>,
    dir: PathBuf,
    arch: String,
    variant: Option<String>,
    volatile: bool,
    from_tree: Option<bool>,
) -> CommandResult<VmStarted> {
    let target = target(&dir, &arch, variant)?;
    let boot = match (from_tree.unwrap_or(false), &target.tree) {
        (true, Some(tree)) => Boot::Tree { tree: tree.clone() },
        (true, None) => {
            return Err(CommandError::vm(
                "there is no image tree yet: build it in the Build step first",
            ))
        }
        (false, _) if !target.built => {
            return Err(CommandError::vm(format!(
                "{} is not built yet: build it in the Build step first",
                target.image.display()
            )))
        }
        (false, _) => Boot::Squashfs {
            image: target.image.clone(),
        },
    };
    let mut spec = VmSpec::new(&target.name, boot);
    spec.system_ini = target.system_ini.clone();
    spec.guest = genpack_vm::Guest::of_project(&dir);
    if !volatile {
        if let Some(parent) = target.data_disk.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| CommandError::io("create", parent, source))?;
        }
        spec.data = DataDisk::File {
            path: target.data_disk.clone(),
            size_bytes: DATA_DISK_BYTES,
        };
    }
    let handle = genpack_vm::launch(&spec).await.map_err(vm_error)?;
    // Dropping the handle leaves QEMU running in its own process group: Stop ends it, and so
    // does quitting the studio.
    sessions.started_list().push(handle.name().to_string());
    Ok(VmStarted {
        name: handle.name().to_string(),
        accel_reason: handle.accel().reason.clone(),
    })
}

/// How to reach the running VM: the SSH command, its web pages on forwarded host ports and how
/// to log in on its console (the same facts `genpack vm run` prints).
#[tauri::command]
pub fn vm_connect(name: String) -> CommandResult<genpack_vm::ConnectInfo> {
    genpack_vm::connect(&name).map_err(vm_error)
}

/// Opens a web page of a VM (an `http(s)://127.0.0.1:<port>/…` address from
/// [`vm_connect`]) in the desktop's web browser.
#[tauri::command]
pub fn open_web_page(url: String) -> CommandResult<()> {
    let loopback = ["http://127.0.0.1:", "https://127.0.0.1:"]
        .iter()
        .any(|prefix| url.starts_with(prefix));
    if !loopback || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CommandError::invalid(format!(
            "{url} is not a web page of a VM on this machine"
        )));
    }
    let opener = genpack_util::find_program("xdg-open").ok_or_else(|| {
        CommandError::vm(format!(
            "no program here opens web pages (xdg-open is not installed): open {url} in your browser"
        ))
    })?;
    std::process::Command::new(opener)
        .arg(&url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|source| CommandError::io("run xdg-open for", Path::new(&url), source))?;
    Ok(())
}

/// The VM's state, accelerator, memory and uptime (cheap: no monitor round trip).
#[tauri::command]
pub fn vm_status(name: String) -> CommandResult<VmStatus> {
    genpack_vm::status(&name).map_err(vm_error)
}

/// Stops the VM: the power button, then quit after a timeout; at once when `force`.
#[tauri::command]
pub async fn vm_stop(
    sessions: tauri::State<'_, Arc<VmSessions>>,
    name: String,
    force: bool,
) -> CommandResult<genpack_vm::StopOutcome> {
    let options = StopOptions {
        force,
        ..StopOptions::default()
    };
    let outcome = genpack_vm::stop(&name, options).await.map_err(vm_error);
    sessions.close(&name);
    outcome
}

/// Restarts the guest at once, like a reset button (unsaved guest data is lost).
#[tauri::command]
pub async fn vm_reset(name: String) -> CommandResult<()> {
    genpack_vm::reset(&name).await.map_err(vm_error)
}

/// Opens a one-time WebSocket bridge to the VM's screen for noVNC. A new call replaces the
/// previous bridge (and ends its session).
#[tauri::command]
pub async fn vm_viewer(
    sessions: tauri::State<'_, Arc<VmSessions>>,
    name: String,
) -> CommandResult<VmViewer> {
    let bridge = ViewerBridge::for_vm(&name).await.map_err(vm_error)?;
    let url = bridge.url().to_string();
    sessions.with(&name, |session| session.viewer = Some(bridge));
    Ok(VmViewer { url })
}

/// Streams the VM's serial console to `output`: first its recent past, then everything it
/// prints, until the VM stops (then [`ConsoleEvent::Closed`]), the window goes away or the
/// console is opened again.
#[tauri::command]
pub fn vm_console_open(
    sessions: tauri::State<'_, Arc<VmSessions>>,
    name: String,
    output: Channel<ConsoleEvent>,
) -> CommandResult<()> {
    let mut log = ConsoleLog::for_vm(&name, CONSOLE_HISTORY_BYTES).map_err(vm_error)?;
    let stop = Arc::new(AtomicBool::new(false));
    let previous = sessions.with(&name, |session| session.console_stop.replace(stop.clone()));
    if let Some(previous) = previous {
        previous.store(true, Ordering::SeqCst);
    }
    let follow = move || {
        while !stop.load(Ordering::SeqCst) {
            // Read before checking the state, so the last words of a stopping VM arrive.
            let stopped = genpack_vm::status(&name)
                .map(|status| status.state == RunState::Stopped)
                .unwrap_or(true);
            let text = match log.read_new() {
                Ok(text) => text,
                Err(error) => format!("\r\n[cannot read the console: {error}]\r\n"),
            };
            if !text.is_empty() && output.send(ConsoleEvent::Output { text }).is_err() {
                return;
            }
            if stopped {
                let _ = output.send(ConsoleEvent::Closed);
                return;
            }
            std::thread::sleep(CONSOLE_POLL);
        }
    };
    std::thread::Builder::new()
        .name("console-follow".into())
        .spawn(follow)
        .map_err(|source| CommandError::vm(format!("cannot follow the console: {source}")))?;
    Ok(())
}

/// Stops streaming the VM's console to the window.
#[tauri::command]
pub fn vm_console_close(sessions: tauri::State<'_, Arc<VmSessions>>, name: String) {
    sessions.with(&name, |session| {
        if let Some(stop) = session.console_stop.take() {
            stop.store(true, Ordering::SeqCst);
        }
    });
}

/// Saves the VM's screen as the project's thumbnail (`work/thumbnail.png`) and returns it as a
/// `data:` URL.
#[tauri::command]
pub async fn vm_save_thumbnail(dir: PathBuf, name: String) -> CommandResult<String> {
    let png = genpack_vm::screenshot(&name).await.map_err(vm_error)?;
    write_atomic(&dir.join(THUMBNAIL_FILE), &png)?;
    Ok(png_data_url(&png))
}

/// The project's thumbnail as a `data:` URL, when one was saved.
#[tauri::command]
pub fn project_thumbnail(dir: PathBuf) -> CommandResult<Option<String>> {
    let file = dir.join(THUMBNAIL_FILE);
    match std::fs::read(&file) {
        Ok(png) => Ok(Some(png_data_url(&png))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CommandError::io("read", &file, source)),
    }
}

fn png_data_url(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// Writes `bytes` to `file` through a temporary file in the same folder, fsync and rename.
fn write_atomic(file: &Path, bytes: &[u8]) -> CommandResult<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| CommandError::io("create", dir, source))?;
    let name = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = std::fs::File::create(&temporary)
        .and_then(|mut handle| {
            handle.write_all(bytes)?;
            handle.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, file));
    written.map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        CommandError::io("write", file, source)
    })
}

/// The guest's screen as a `data:image/png;base64,…` URL.
#[tauri::command]
pub async fn vm_screenshot(name: String) -> CommandResult<String> {
    let png = genpack_vm::screenshot(&name).await.map_err(vm_error)?;
    Ok(png_data_url(&png))
}

/// The last `kib` KiB of the VM's serial console log (empty before the guest writes anything).
#[tauri::command]
pub fn vm_console_tail(name: String, kib: u64) -> CommandResult<String> {
    let runtime = RuntimeDir::for_name(&name).map_err(vm_error)?;
    tail(&runtime.console_log(), kib.saturating_mul(1024))
}

/// Types `text` on the VM's serial console, through one connection kept for the window.
#[tauri::command]
pub fn vm_console_send(
    sessions: tauri::State<'_, Arc<VmSessions>>,
    name: String,
    text: String,
) -> CommandResult<()> {
    sessions.with(&name, |session| {
        if let Some(input) = &mut session.input {
            if input.send(text.as_bytes()).is_ok() {
                return Ok(());
            }
        }
        // No connection yet, or the VM was started again: connect (once) and type.
        let mut input = ConsoleInput::connect(&name).map_err(|error| {
            CommandError::vm(format!(
                "cannot type on the console of {name}: {error}; is the VM running?"
            ))
        })?;
        let sent = input.send(text.as_bytes()).map_err(vm_error);
        session.input = Some(input);
        sent
    })
}

/// The last `bytes` of `file` as text; a missing file reads as empty.
fn tail(file: &Path, bytes: u64) -> CommandResult<String> {
    let mut handle = match std::fs::File::open(file) {
        Ok(handle) => handle,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(source) => return Err(CommandError::io("read", file, source)),
    };
    let length = handle
        .metadata()
        .map_err(|source| CommandError::io("read", file, source))?
        .len();
    let start = length.saturating_sub(bytes);
    handle
        .seek(SeekFrom::Start(start))
        .map_err(|source| CommandError::io("read", file, source))?;
    let mut buffer = Vec::new();
    handle
        .read_to_end(&mut buffer)
        .map_err(|source| CommandError::io("read", file, source))?;
    Ok(String::from_utf8_lossy(&buffer).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_finds_the_image_system_ini_and_data_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("genpack.json5"),
            r#"{ name: "demo", base: "debian:bookworm" }"#,
        )
        .unwrap();
        let found = target(dir.path(), "x86_64", None).unwrap();
        assert_eq!(found.name, "demo-x86_64");
        assert!(!found.built);
        assert!(found.system_ini.is_none());
        assert_eq!(found.data_disk, dir.path().join("work/vm-data.img"));

        std::fs::write(dir.path().join("system.ini"), "hostname=demo\n").unwrap();
        std::fs::write(dir.path().join("demo-x86_64.squashfs"), b"hsqs").unwrap();
        let found = target(dir.path(), "x86_64", None).unwrap();
        assert!(found.built);
        assert_eq!(found.system_ini, Some(dir.path().join("system.ini")));
    }

    #[test]
    fn a_saved_thumbnail_is_read_back_as_a_data_url() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(project_thumbnail(dir.path().to_path_buf()).unwrap(), None);
        write_atomic(&dir.path().join(THUMBNAIL_FILE), b"\x89PNG").unwrap();
        assert_eq!(
            project_thumbnail(dir.path().to_path_buf()).unwrap(),
            Some("data:image/png;base64,iVBORw==".to_string())
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("work"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["thumbnail.png"], "no temporary file is left");
    }

    #[test]
    fn console_events_are_tagged_for_the_window() {
        let output = serde_json::to_value(ConsoleEvent::Output {
            text: "login: ".into(),
        })
        .unwrap();
        assert_eq!(output["kind"], "output");
        assert_eq!(output["text"], "login: ");
        assert_eq!(
            serde_json::to_value(ConsoleEvent::Closed).unwrap()["kind"],
            "closed"
        );
    }

    #[test]
    fn tail_reads_the_end_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        assert_eq!(tail(&log, 1024).unwrap(), "", "no log yet");
        std::fs::write(&log, "first line\nDebian login: ").unwrap();
        assert_eq!(tail(&log, 7).unwrap(), "login: ");
        assert_eq!(tail(&log, 1024).unwrap(), "first line\nDebian login: ");
    }
}
