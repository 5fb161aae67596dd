//! Starting, listing, inspecting and stopping VMs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

use crate::accel::{self, AccelVerdict};
use crate::boot_files::{self, Arch};
use crate::command::{qemu_args, Prepared};
use crate::disk;
use crate::error::{Result, VmError};
use crate::firmware::{find_program, qemu_binary, Firmware};
use crate::input::InputDevices;
use crate::network::{self, Network};
use crate::qmp::{qmp, QmpClient};
use crate::runtime::{
    self, base_dir, create_private_dir, QemuProcess, RuntimeDir, StartLock, VmState,
};
use crate::screen::Screenshot;
use crate::spec::{Boot, DataDisk, Display, Share, VmSpec, MIN_MEMORY_MIB};
use crate::status::{now_secs, RunState, VmStatus};
use crate::vsock;

/// How long QEMU may take to open its monitor socket.
pub const MONITOR_TIMEOUT: Duration = Duration::from_secs(30);
/// The clipboard agent of desktop guests; an image that has it gets a qemu-vdagent channel.
const SPICE_VDAGENT: &str = "/usr/bin/spice-vdagent";
/// Default time a guest gets to power off after an ACPI power-button press.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A step of [`launch_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartPhase {
    /// Creating the runtime folder and the data disk.
    Preparing,
    /// Reading the kernel and initramfs out of the image.
    ExtractingKernel,
    /// Deciding between KVM and TCG (may run a trial boot of up to 5 s).
    ChoosingAccelerator,
    /// QEMU is starting.
    StartingQemu,
    /// QEMU's monitor answered; the guest is running.
    Ready,
}

/// A progress report of [`launch_with_progress`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartEvent {
    /// The current phase.
    pub phase: StartPhase,
    /// 1-based step number.
    pub step: u32,
    /// Total number of steps.
    pub steps: u32,
    /// A one-line description for logs.
    pub message: String,
}

/// A VM started by this process.
///
/// Dropping the handle leaves QEMU running (it runs in its own process group); use
/// [`VmHandle::wait`] to run in the foreground.
#[derive(Debug)]
pub struct VmHandle {
    runtime: RuntimeDir,
    state: VmState,
    verdict: AccelVerdict,
    child: Child,
    helpers: Vec<Child>,
}

impl VmHandle {
    /// The VM name.
    pub fn name(&self) -> &str {
        self.runtime.name()
    }
    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.state.pid
    }
    /// What `vm.json` records.
    pub fn state(&self) -> &VmState {
        &self.state
    }
    /// The accelerator and why it was chosen.
    pub fn accel(&self) -> &AccelVerdict {
        &self.verdict
    }
    /// The runtime folder.
    pub fn runtime_dir(&self) -> &RuntimeDir {
        &self.runtime
    }

    /// Waits for QEMU to exit, removes the runtime folder and returns QEMU's exit status.
    pub async fn wait(mut self) -> Result<std::process::ExitStatus> {
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| VmError::io("cannot wait for QEMU of", self.runtime.path(), e))?;
        for helper in &mut self.helpers {
            let _ = helper.start_kill();
            let _ = helper.wait().await;
        }
        self.runtime.remove()?;
        Ok(status)
    }
}

/// Starts a VM in the background and returns once its monitor answers.
pub async fn launch(spec: &VmSpec) -> Result<VmHandle> {
    launch_with_progress(spec, |_| {}).await
}

/// Like [`launch`], reporting each phase to `progress`.
///
/// If the returned future is dropped (cancelled) or fails, QEMU is killed and the runtime folder
/// removed: no half-started VM remains.
pub async fn launch_with_progress(
    spec: &VmSpec,
    mut progress: impl FnMut(StartEvent),
) -> Result<VmHandle> {
    const STEPS: u32 = 5;
    let mut report = |phase: StartPhase, step: u32, message: String| {
        progress(StartEvent {
            phase,
            step,
            steps: STEPS,
            message,
        })
    };
    check_spec(spec)?;
    let spec = &crate::connect::with_service_forwards(&crate::tree::with_tree_share(spec)?);
    let runtime = RuntimeDir::for_name(&spec.name)?;
    report(
        StartPhase::Preparing,
        1,
        format!("preparing {}", runtime.path().display()),
    );
    let _start_lock = StartLock::acquire(&runtime)?;
    if let Some(pid) = runtime.live_pid() {
        return Err(VmError::AlreadyRunning {
            name: spec.name.clone(),
            pid,
        });
    }
    runtime.remove()?;
    create_private_dir(runtime.path())?;
    let mut cleanup = CleanupGuard {
        runtime: runtime.clone(),
        pids: Vec::new(),
        armed: true,
    };

    if let DataDisk::File { path, size_bytes } = &spec.data {
        if !path.exists() {
            let (path, size) = (path.clone(), *size_bytes);
            blocking(move || disk::allocate(&path, size)).await?;
        }
    }

    let boot_files = match &spec.boot {
        Boot::Squashfs { image } => {
            report(
                StartPhase::ExtractingKernel,
                2,
                format!("reading kernel and initramfs from {}", image.display()),
            );
            let (image, out) = (image.clone(), runtime.path().to_path_buf());
            Some(
                blocking(move || {
                    let image = genpack_image::Image::open(&image)?;
                    let files = boot_files::extract_from(&image, &out)?;
                    let vdagent = image.resolve(SPICE_VDAGENT).is_ok();
                    Ok((files, image.kernel_drivers(), vdagent))
                })
                .await?,
            )
        }
        Boot::Tree { tree } => Some((
            crate::tree::boot_files(tree)?,
            crate::tree::kernel_drivers(tree),
            crate::tree::resolve_in_tree(tree, SPICE_VDAGENT).is_some(),
        )),
        _ => None,
    };
    let (boot_files, drivers, vdagent) = match boot_files {
        Some((files, drivers, vdagent)) => (Some(files), drivers, vdagent),
        None => (None, genpack_image::KernelDrivers::default(), false),
    };
    let arch = boot_files.as_ref().map_or(Arch::host(), |f| f.arch);
    let qemu = qemu_binary(arch)?;

    report(
        StartPhase::ChoosingAccelerator,
        3,
        "choosing the accelerator".into(),
    );
    let host_kernel = accel::host_kernel();
    let trial_kernel = boot_files
        .as_ref()
        .map(|f| f.kernel.as_path())
        .or(host_kernel.as_deref());
    let verdict = accel::choose(spec.accel, &qemu, arch, trial_kernel, &base_dir()?).await;

    let (firmware, uefi_vars) = match &spec.boot {
        Boot::Squashfs { .. } | Boot::Tree { .. } => (None, None),
        Boot::Disk { firmware, .. } | Boot::Iso { firmware, .. } => {
            let fw = Firmware::locate(*firmware, arch)?;
            let vars = match &fw {
                Firmware::Uefi { vars_template, .. } => {
                    let vars = spec
                        .uefi_vars
                        .clone()
                        .unwrap_or_else(|| runtime.path().join("efivars.fd"));
                    if !vars.exists() {
                        let template = fs::read(vars_template).map_err(|e| {
                            VmError::io("cannot read UEFI variables", vars_template, e)
                        })?;
                        runtime::write_atomic(&vars, &template)?;
                    }
                    Some(vars)
                }
                Firmware::Bios { .. } => None,
            };
            (Some(fw), vars)
        }
    };

    let mut helpers = Vec::new();
    let mut virtiofs_sockets = Vec::new();
    for (i, share) in spec.shares.iter().enumerate() {
        if let Share::Virtiofs { path, tag } = share {
            let socket = runtime.path().join(format!("virtiofs{i}.sock"));
            let cache = crate::tree::virtiofs_cache(tag);
            let child = start_virtiofsd(path, &socket, &runtime, cache).await?;
            if let Some(pid) = child.id() {
                cleanup.pids.push(pid);
            }
            helpers.push(child);
            virtiofs_sockets.push(socket);
        }
    }

    let vsock_cid = vsock::host_has_vsock().then(|| vsock::cid_for_current_user(&spec.name));
    let prepared = Prepared {
        arch,
        accel: verdict.accel,
        boot_files,
        firmware,
        uefi_vars,
        vsock_cid,
        virtiofs_sockets,
        input: InputDevices::for_kernel(&drivers, arch),
        clipboard: vdagent && spec.display == Display::Vnc,
    };
    report(
        StartPhase::StartingQemu,
        4,
        format!("starting QEMU ({})", verdict.accel),
    );
    // Host ports left to choose ("any free port") are chosen now; when another program takes
    // one between the choice and QEMU's bind (two VMs started at the same moment), QEMU fails
    // on it and the start is retried with the next free port.
    let mut taken = Vec::new();
    let (child, pid, forwards) = loop {
        let forwards = match &spec.network {
            Network::User { forwards } => network::choose_free_ports(forwards, &taken)?,
            _ => Vec::new(),
        };
        let mut resolved = spec.clone();
        if let Network::User { .. } = spec.network {
            resolved.network = Network::User {
                forwards: forwards.clone(),
            };
        }
        let args = qemu_args(&resolved, &prepared, &runtime);
        let mut child = spawn_qemu(&qemu, &args, &runtime)?;
        let pid = child.id().ok_or_else(|| VmError::QemuFailed {
            name: spec.name.clone(),
            detail: "QEMU exited immediately".into(),
        })?;
        cleanup.pids.push(pid);
        match wait_for_monitor(&spec.name, &runtime, &mut child).await {
            Ok(()) => break (child, pid, forwards),
            Err(error) => {
                let log = fs::read_to_string(runtime.qemu_log()).unwrap_or_default();
                let lost =
                    network::port_lost_to_another_program(&log, spec_forwards(spec), &forwards);
                match lost {
                    Some(port) if taken.len() < network::PORT_RETRIES => taken.push(port),
                    _ => return Err(error),
                }
            }
        }
    };

    let state = VmState {
        name: spec.name.clone(),
        image: spec.image().clone(),
        memory_mib: spec.memory_mib,
        cpus: spec.cpus,
        accel: verdict.accel,
        started_at: now_secs(),
        forwards,
        pid,
        data_disk: match &spec.data {
            DataDisk::File { path, .. } => Some(path.clone()),
            DataDisk::Volatile => None,
        },
        vsock_cid,
        vnc_socket: (spec.display == Display::Vnc).then(|| runtime.vnc_socket()),
        input: (spec.display == Display::Vnc).then_some(prepared.input),
        clipboard: prepared.clipboard,
        qmp_socket: runtime.qmp_socket(),
        console_socket: runtime.console_socket(),
        console_log: runtime.console_log(),
        system_ini: spec.system_ini.clone(),
        guest: spec.guest.clone(),
    };
    runtime.write_state(&state)?;
    report(
        StartPhase::Ready,
        5,
        format!("{} is running (pid {pid}, {})", spec.name, verdict.accel),
    );
    cleanup.armed = false;
    Ok(VmHandle {
        runtime,
        state,
        verdict,
        child,
        helpers,
    })
}

/// The forwards a spec asks for (before free ports are chosen).
fn spec_forwards(spec: &VmSpec) -> &[crate::network::Forward] {
    match &spec.network {
        Network::User { forwards } => forwards,
        _ => &[],
    }
}

/// Starts QEMU in its own process group, its output going to `qemu.log`.
fn spawn_qemu(qemu: &Path, args: &[std::ffi::OsString], runtime: &RuntimeDir) -> Result<Child> {
    let log = fs::File::create(runtime.qemu_log())
        .map_err(|e| VmError::io("cannot create", runtime.qemu_log(), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| VmError::io("cannot open", runtime.qemu_log(), e))?;
    Command::new(qemu)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| VmError::io("cannot run", qemu, e))
}

fn check_spec(spec: &VmSpec) -> Result<()> {
    runtime::validate_name(&spec.name)?;
    if spec.memory_mib < MIN_MEMORY_MIB {
        return Err(VmError::InvalidSpec(format!(
            "memory {} MiB is below the minimum of {MIN_MEMORY_MIB} MiB",
            spec.memory_mib
        )));
    }
    if spec.cpus == 0 || spec.cpus > 256 {
        return Err(VmError::InvalidSpec(format!(
            "{} vCPUs: use 1 to 256",
            spec.cpus
        )));
    }
    let image = spec.image();
    let found = match spec.boot {
        Boot::Tree { .. } => image.is_dir(),
        _ => image.is_file(),
    };
    if !found {
        return Err(VmError::io(
            "cannot find image",
            image,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    if let Some(ini) = &spec.system_ini {
        if !ini.is_file() {
            return Err(VmError::io(
                "cannot find system.ini",
                ini,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
    }
    if matches!(spec.network, Network::Bridge { .. } | Network::Tap { .. }) && !is_root() {
        return Err(VmError::NeedsRoot {
            what: "a bridge or tap network".into(),
        });
    }
    for share in &spec.shares {
        let (Share::Virtiofs { path, tag } | Share::NineP { path, tag, .. }) = share;
        if !path.is_dir() {
            return Err(VmError::InvalidSpec(format!(
                "shared folder {} does not exist",
                path.display()
            )));
        }
        if tag.is_empty() || tag.len() > 36 {
            return Err(VmError::InvalidSpec(format!(
                "share tag {tag:?} must be 1 to 36 characters"
            )));
        }
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(VmError::InvalidSpec(format!("background task failed: {e}"))))
}

async fn start_virtiofsd(
    path: &Path,
    socket: &Path,
    runtime: &RuntimeDir,
    cache: &str,
) -> Result<Child> {
    let program = ["/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| find_program("virtiofsd"))
        .ok_or(VmError::ProgramMissing {
            program: "virtiofsd".into(),
            package: "virtiofsd",
        })?;
    let log = runtime.path().join("virtiofsd.log");
    let out = fs::File::create(&log).map_err(|e| VmError::io("cannot create", &log, e))?;
    let err = out
        .try_clone()
        .map_err(|e| VmError::io("cannot open", &log, e))?;
    let child = Command::new(&program)
        .arg(format!("--socket-path={}", socket.display()))
        .arg(format!("--shared-dir={}", path.display()))
        .arg(format!("--cache={cache}"))
        .arg("--xattr")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| VmError::io("cannot run", &program, e))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if Instant::now() > deadline {
            return Err(VmError::Timeout {
                what: format!("virtiofsd socket {}", socket.display()),
                seconds: 10,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(child)
}

async fn wait_for_monitor(name: &str, runtime: &RuntimeDir, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + MONITOR_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(VmError::QemuFailed {
                name: name.to_string(),
                detail: format!("{status}: {}", log_tail(&runtime.qemu_log())),
            });
        }
        if runtime.qmp_socket().exists() {
            if let Ok(qmp) = QmpClient::connect(&runtime.qmp_socket()).await {
                if qmp.execute(qmp::query_status {}).await.is_ok() {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err(VmError::Timeout {
                what: format!("QEMU monitor of {name}"),
                seconds: MONITOR_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The last lines of a log, for error messages.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    if tail.is_empty() {
        "no output".into()
    } else {
        tail
    }
}

/// Kills what a failed or cancelled launch started and removes the runtime folder.
struct CleanupGuard {
    runtime: RuntimeDir,
    pids: Vec<u32>,
    armed: bool,
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for &pid in &self.pids {
            // SAFETY: sending a signal has no memory-safety preconditions.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        let _ = self.runtime.remove();
    }
}

/// A VM as `genpack vm list/show` and the studio see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmInfo {
    /// The VM name.
    pub name: String,
    /// Current status.
    pub status: VmStatus,
    /// What `vm.json` records (absent while starting).
    pub details: Option<VmState>,
    /// The runtime folder.
    pub runtime_dir: PathBuf,
}

/// The status of VM `name` (no QMP round trip: cheap enough to poll).
pub fn status(name: &str) -> Result<VmStatus> {
    let runtime = RuntimeDir::for_name(name)?;
    Ok(status_of(&runtime))
}

fn status_of(runtime: &RuntimeDir) -> VmStatus {
    let state = runtime.read_state().ok().flatten();
    let alive = runtime.live_pid().is_some();
    let run_state = if !alive {
        RunState::Stopped
    } else if runtime.stopping_marker().exists() {
        RunState::Stopping
    } else if state.is_none() {
        RunState::Starting
    } else {
        RunState::Running
    };
    VmStatus {
        state: run_state,
        accel: state.as_ref().map(|s| s.accel),
        memory_mib: state.as_ref().map(|s| s.memory_mib),
        cpus: state.as_ref().map(|s| s.cpus),
        started_at: state.as_ref().map(|s| s.started_at),
        uptime_secs: state
            .as_ref()
            .filter(|_| alive)
            .map(|s| now_secs().saturating_sub(s.started_at)),
        input: state.as_ref().and_then(|s| s.input),
        clipboard: state.as_ref().is_some_and(|s| s.clipboard),
    }
}

/// Everything known about VM `name`.
pub fn show(name: &str) -> Result<VmInfo> {
    let runtime = RuntimeDir::for_name(name)?;
    if !runtime.path().is_dir() {
        return Err(VmError::NotRunning { name: name.into() });
    }
    Ok(VmInfo {
        name: name.to_string(),
        status: status_of(&runtime),
        details: runtime.read_state()?,
        runtime_dir: runtime.path().to_path_buf(),
    })
}

/// The running (and starting) VMs, sorted by name. Folders of VMs whose QEMU is gone are removed.
pub fn list() -> Result<Vec<VmInfo>> {
    let base = base_dir()?;
    let entries = match fs::read_dir(&base) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(VmError::io("cannot list", &base, e)),
    };
    let mut vms = Vec::new();
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(runtime) = RuntimeDir::under(&base, &name) else {
            continue;
        };
        if runtime.live_pid().is_none() {
            // A folder without a pid file younger than the monitor timeout may be a VM that is
            // being started right now: leave it.
            let young = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age < MONITOR_TIMEOUT);
            if runtime.read_pid().is_none() && young {
                continue;
            }
            let _ = runtime.remove();
            continue;
        }
        vms.push(VmInfo {
            name,
            status: status_of(&runtime),
            details: runtime.read_state().ok().flatten(),
            runtime_dir: runtime.path().to_path_buf(),
        });
    }
    vms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(vms)
}

/// How a VM was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum StopOutcome {
    /// The guest powered itself off after the ACPI power button.
    PoweredOff,
    /// QEMU was told to quit (forced, or the guest ignored the power button).
    Quit,
    /// QEMU did not answer on QMP and was killed.
    Killed,
}

/// Options of [`stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopOptions {
    /// Quit at once instead of pressing the power button.
    pub force: bool,
    /// How long the guest may take to power off before QEMU is told to quit.
    pub timeout: Duration,
}

impl Default for StopOptions {
    fn default() -> Self {
        StopOptions {
            force: false,
            timeout: DEFAULT_STOP_TIMEOUT,
        }
    }
}

/// Stops VM `name`: ACPI power button (`system_powerdown`), then `quit` after the timeout (at
/// once when forced). Waits for QEMU to exit and removes the runtime folder.
pub async fn stop(name: &str, options: StopOptions) -> Result<StopOutcome> {
    let runtime = RuntimeDir::for_name(name)?;
    let Some(qemu) = runtime.qemu_process() else {
        runtime.remove()?;
        return Err(VmError::NotRunning { name: name.into() });
    };
    let _ = fs::write(runtime.stopping_marker(), b"");

    let outcome = match QmpClient::connect(&runtime.qmp_socket()).await {
        Ok(qmp) => {
            if !options.force {
                qmp.execute(qmp::system_powerdown {}).await?;
            }
            if !options.force && wait_exit(&qemu, options.timeout).await {
                StopOutcome::PoweredOff
            } else {
                // QEMU may close the socket before replying to quit.
                let _ = qmp.execute(qmp::quit {}).await;
                if wait_exit(&qemu, Duration::from_secs(10)).await {
                    StopOutcome::Quit
                } else {
                    kill(&qemu).await;
                    StopOutcome::Killed
                }
            }
        }
        Err(_) => {
            kill(&qemu).await;
            StopOutcome::Killed
        }
    };
    runtime.remove()?;
    Ok(outcome)
}

/// SIGTERM, then SIGKILL after 5 s, to this very QEMU process.
async fn kill(qemu: &QemuProcess) {
    qemu.signal(libc::SIGTERM);
    if !wait_exit(qemu, Duration::from_secs(5)).await {
        qemu.signal(libc::SIGKILL);
        wait_exit(qemu, Duration::from_secs(5)).await;
    }
}

/// Polls until QEMU has exited; `false` on timeout.
async fn wait_exit(qemu: &QemuProcess, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !qemu.exited() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

/// Opens a QMP session to the running VM `name`.
pub async fn connect_qmp(name: &str) -> Result<QmpClient> {
    let runtime = RuntimeDir::for_name(name)?;
    if runtime.live_pid().is_none() {
        return Err(VmError::NotRunning { name: name.into() });
    }
    QmpClient::connect(&runtime.qmp_socket()).await
}

/// Resets VM `name` like its reset button: the guest restarts at once, without shutting down.
pub async fn reset(name: &str) -> Result<()> {
    connect_qmp(name)
        .await?
        .execute(qmp::system_reset {})
        .await?;
    Ok(())
}

/// A PNG of the VM's screen, read over its VNC socket.
pub async fn screenshot(name: &str) -> Result<Vec<u8>> {
    screen(name).await?.to_png()
}

/// The VM's screen as pixels, read over its VNC socket.
pub async fn screen(name: &str) -> Result<Screenshot> {
    let runtime = RuntimeDir::for_name(name)?;
    if runtime.live_pid().is_none() {
        return Err(VmError::NotRunning { name: name.into() });
    }
    let socket = runtime.vnc_socket();
    if !socket.exists() {
        return Err(VmError::NoScreen { name: name.into() });
    }
    crate::screen::capture(&socket).await
}

/// A disk whose size [`expand`] passed on to the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResizedDisk {
    /// QEMU's device id (`data`, `system`, ...).
    pub device: String,
    /// The backing file.
    pub file: PathBuf,
    /// The size the guest saw before.
    pub old_size: u64,
    /// The size the guest sees now.
    pub new_size: u64,
}

/// Tells the guest about grown disk files: every writable raw disk whose file is now larger
/// than the guest's view gets a QMP `block_resize`.
pub async fn expand(name: &str) -> Result<Vec<ResizedDisk>> {
    let client = connect_qmp(name).await?;
    let blocks = client.execute(qmp::query_block {}).await?;
    let mut resized = Vec::new();
    for block in blocks {
        let Some(inserted) = block.inserted else {
            continue;
        };
        if inserted.ro || inserted.drv != "raw" {
            continue;
        }
        let old_size = u64::try_from(inserted.image.base.virtual_size).unwrap_or(0);
        let Ok(meta) = fs::metadata(&inserted.file) else {
            continue;
        };
        if meta.len() > old_size {
            client
                .execute(qmp::block_resize {
                    device: Some(block.device.clone()),
                    node_name: None,
                    size: i64::try_from(meta.len()).unwrap_or(i64::MAX),
                })
                .await?;
            resized.push(ResizedDisk {
                device: block.device,
                file: PathBuf::from(inserted.file),
                old_size,
                new_size: meta.len(),
            });
        }
    }
    Ok(resized)
}

/// The vsock CID of VM `name`: the one it runs with, else the one it would get.
pub fn cid(name: &str) -> Result<u32> {
    let runtime = RuntimeDir::for_name(name)?;
    Ok(runtime
        .read_state()
        .ok()
        .flatten()
        .and_then(|s| s.vsock_cid)
        .unwrap_or_else(|| vsock::cid_for_current_user(name)))
}
