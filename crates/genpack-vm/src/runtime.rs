//! The runtime folder of each VM: sockets, pid file, logs and `vm.json`.
//!
//! Layout: `<base>/<name>/` with `pid`, `qmp.sock`, `console.sock`, `console.log`, `vnc.sock`,
//! `qemu.log` and `vm.json`. The base is `$XDG_RUNTIME_DIR/genpack/vm`, else `/run/genpack/vm`
//! for root, else `/tmp/genpack-<uid>/vm`; that last folder is used only when it is a real
//! folder of the user's own that nobody else can enter (another user could have made it first).
//!
//! A VM is running while its QEMU holds the lock QEMU takes on its pid file (`-pidfile`): that
//! identifies the process itself, so a pid reused by another program after QEMU died is never
//! taken for the VM, shown as running or signalled.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::connect::Guest;
use crate::error::{Result, VmError};
use crate::input::InputDevices;
use crate::network::Forward;
use crate::status::Accel;

/// Where the runtime folders of all VMs live (see the module documentation).
pub fn base_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("genpack/vm"));
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        return Ok(PathBuf::from("/run/genpack/vm"));
    }
    let own = PathBuf::from(format!("/tmp/genpack-{uid}"));
    claim_private_dir(&own, uid)?;
    Ok(own.join("vm"))
}

/// Makes sure `dir` is a folder of user `uid` that only that user can enter: creates it (mode
/// 0700) when missing, refuses a symlink, another user's folder or one others can enter.
fn claim_private_dir(dir: &Path, uid: u32) -> Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(VmError::io("cannot create", dir, e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| VmError::io("cannot inspect", dir, e))?;
    let unsafe_dir = |reason: String| VmError::UnsafeRuntimeDir {
        path: dir.to_path_buf(),
        reason,
    };
    if meta.file_type().is_symlink() {
        return Err(unsafe_dir("is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(unsafe_dir("is not a folder".into()));
    }
    if meta.uid() != uid {
        return Err(unsafe_dir(format!(
            "belongs to user id {}, not to you (user id {uid})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(unsafe_dir(format!(
            "can be entered by other users (mode {:o})",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Checks that `name` is usable as a VM name (it becomes a directory name and a QEMU `-name`).
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(VmError::InvalidName {
            name: name.to_string(),
        })
    }
}

/// Creates `dir` and its parents with mode 0700 (sockets inside must stay private).
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| VmError::io("cannot create", dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| VmError::io("cannot set permissions of", dir, e))
}

/// The runtime folder of one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeDir {
    name: String,
    dir: PathBuf,
}

impl RuntimeDir {
    /// The folder of the VM `name` under [`base_dir`].
    pub fn for_name(name: &str) -> Result<Self> {
        Self::under(&base_dir()?, name)
    }

    /// The folder of the VM `name` under another base (tests, services).
    pub fn under(base: &Path, name: &str) -> Result<Self> {
        validate_name(name)?;
        Ok(RuntimeDir {
            name: name.to_string(),
            dir: base.join(name),
        })
    }

    /// The VM name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The folder itself.
    pub fn path(&self) -> &Path {
        &self.dir
    }
    /// QEMU's pid file: QEMU writes it and holds a lock on it while it runs.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }
    /// The QMP socket.
    pub fn qmp_socket(&self) -> PathBuf {
        self.dir.join("qmp.sock")
    }
    /// The serial console socket (one client at a time).
    pub fn console_socket(&self) -> PathBuf {
        self.dir.join("console.sock")
    }
    /// Everything the serial console printed.
    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }
    /// The VNC socket (RFB), present when the display is VNC.
    pub fn vnc_socket(&self) -> PathBuf {
        self.dir.join("vnc.sock")
    }
    /// QEMU's own stdout and stderr.
    pub fn qemu_log(&self) -> PathBuf {
        self.dir.join("qemu.log")
    }
    /// The VM description written once QEMU is ready.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("vm.json")
    }
    /// Present while a stop is in progress.
    pub(crate) fn stopping_marker(&self) -> PathBuf {
        self.dir.join("stopping")
    }

    /// Reads the pid written in the pid file, if it exists and is valid (it may be stale:
    /// [`RuntimeDir::live_pid`] says whether that QEMU still runs).
    pub fn read_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.pid_file()).ok()?;
        text.trim().parse().ok()
    }

    /// The pid of the QEMU of this VM while it runs: the process holding the lock on the pid
    /// file. `None` when no process holds it (QEMU exited or was killed, even if its pid now
    /// belongs to another program).
    pub fn live_pid(&self) -> Option<u32> {
        lock_holder(&self.pid_file())
    }

    /// A handle on the running QEMU of this VM that stays bound to that very process: signals
    /// sent through it can never reach a process that reuses the pid later.
    pub(crate) fn qemu_process(&self) -> Option<QemuProcess> {
        let pid = self.live_pid()?;
        let pidfd = pidfd_open(pid)?;
        // The pidfd was opened for whatever had the pid a moment ago; it is our QEMU only if
        // that process still holds the lock now.
        (self.live_pid() == Some(pid)).then_some(QemuProcess { pidfd })
    }

    /// Reads `vm.json`; `None` while the VM is still starting.
    pub fn read_state(&self) -> Result<Option<VmState>> {
        let path = self.state_file();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(VmError::io("cannot read", path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| VmError::State { path, source })
    }

    /// Writes `vm.json` atomically.
    pub(crate) fn write_state(&self, state: &VmState) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|source| VmError::State {
            path: self.state_file(),
            source,
        })?;
        write_atomic(&self.state_file(), &bytes)
    }

    /// Removes the folder and everything in it, and the name's start lock unless a start holds it.
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(VmError::io("cannot remove", &self.dir, e)),
        }
        StartLock::remove_if_free(self);
        Ok(())
    }

    fn lock_file(&self) -> PathBuf {
        let base = self.dir.parent().unwrap_or(Path::new("/"));
        base.join(format!(".{}.lock", self.name))
    }
}

/// An exclusive lock on a VM name for the duration of a start, so two starts of the same name
/// cannot race. Held through `flock` on `<base>/.<name>.lock`; released on drop.
#[derive(Debug)]
pub(crate) struct StartLock {
    _file: fs::File,
}

impl StartLock {
    /// Takes the lock, or fails with [`VmError::AlreadyRunning`] when another start holds it.
    pub(crate) fn acquire(runtime: &RuntimeDir) -> Result<StartLock> {
        let path = runtime.lock_file();
        create_private_dir(path.parent().unwrap_or(Path::new("/")))?;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| VmError::io("cannot open", &path, e))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(VmError::AlreadyRunning {
                name: runtime.name.clone(),
                pid: runtime.read_pid().unwrap_or(0),
            });
        }
        Ok(StartLock { _file: file })
    }

    /// Deletes the lock file of a name nobody is starting (it is recreated on the next start).
    fn remove_if_free(runtime: &RuntimeDir) {
        let path = runtime.lock_file();
        let Ok(file) = fs::File::open(&path) else {
            return;
        };
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            let _ = fs::remove_file(&path);
        }
    }
}

/// What `vm.json` records about a running VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmState {
    /// The VM name.
    pub name: String,
    /// The booted image (SquashFS, disk image or ISO).
    pub image: PathBuf,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Number of vCPUs.
    pub cpus: u32,
    /// The accelerator QEMU runs with.
    pub accel: Accel,
    /// Start time, seconds since the Unix epoch.
    pub started_at: u64,
    /// Host ports forwarded to the guest (user-mode network).
    pub forwards: Vec<Forward>,
    /// QEMU's process id.
    pub pid: u32,
    /// The data disk file, if any.
    pub data_disk: Option<PathBuf>,
    /// The vsock CID, when the VM has a vsock device.
    pub vsock_cid: Option<u32>,
    /// The VNC socket, when the display is VNC.
    pub vnc_socket: Option<PathBuf>,
    /// The keyboard and pointer of the screen, when the display is VNC.
    #[serde(default)]
    pub input: Option<InputDevices>,
    /// The viewer's clipboard reaches the guest (it runs spice-vdagent; qemu-vdagent channel).
    #[serde(default)]
    pub clipboard: bool,
    /// The QMP socket.
    pub qmp_socket: PathBuf,
    /// The serial console socket.
    pub console_socket: PathBuf,
    /// The serial console log.
    pub console_log: PathBuf,
    /// The system.ini handed to the guest, when there is one.
    #[serde(default)]
    pub system_ini: Option<PathBuf>,
    /// What the appliance offers: its declared services and accounts.
    #[serde(default)]
    pub guest: Guest,
}

/// The running QEMU of a VM, held through a pidfd.
#[derive(Debug)]
pub(crate) struct QemuProcess {
    pidfd: OwnedFd,
}

impl QemuProcess {
    /// Sends `signal` to this QEMU (nothing happens once it has exited).
    pub(crate) fn signal(&self, signal: libc::c_int) {
        // SAFETY: pidfd_send_signal on a pidfd we own, with no siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
    }

    /// Whether this QEMU has exited (its pidfd turns readable).
    pub(crate) fn exited(&self) -> bool {
        let mut poll = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no timeout.
        let ready = unsafe { libc::poll(&mut poll, 1, 0) };
        ready > 0
    }
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open has no memory-safety preconditions; a valid descriptor is owned here.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// The process holding a POSIX write lock on `file` (as QEMU does on its `-pidfile`).
fn lock_holder(file: &Path) -> Option<u32> {
    let handle = fs::File::open(file).ok()?;
    // SAFETY: flock is plain data; all-zero is a valid value before the fields are set.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: F_GETLK on a descriptor we own, with a valid flock to fill in.
    let status = unsafe { libc::fcntl(handle.as_raw_fd(), libc::F_GETLK, &mut lock) };
    if status != 0 || lock.l_type == libc::F_UNLCK as libc::c_short || lock.l_pid <= 0 {
        return None;
    }
    Some(lock.l_pid as u32)
}

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state letter follows the parenthesised command name, which may contain spaces.
    match stat.rfind(')') {
        Some(end) => !matches!(stat[end + 1..].trim_start().chars().next(), Some('Z' | 'X')),
        None => false,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder, fsync and rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        VmError::io("cannot write", path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_escape_the_base_are_rejected() {
        for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["web", "my-vm_2", "vm.test"] {
            assert!(validate_name(good).is_ok(), "{good:?} rejected");
        }
    }

    #[test]
    fn only_one_start_per_name_at_a_time() {
        let base = tempfile::tempdir().unwrap();
        let rt = RuntimeDir::under(base.path(), "web").unwrap();
        let first = StartLock::acquire(&rt).unwrap();
        assert!(matches!(
            StartLock::acquire(&rt),
            Err(VmError::AlreadyRunning { .. })
        ));
        let other = RuntimeDir::under(base.path(), "db").unwrap();
        assert!(StartLock::acquire(&other).is_ok());
        // Removing the folder while a start holds the lock keeps the lock.
        rt.remove().unwrap();
        assert!(rt.lock_file().exists());
        drop(first);
        assert!(StartLock::acquire(&rt).is_ok());
        rt.remove().unwrap();
        assert!(!rt.lock_file().exists());
    }

    #[test]
    fn own_process_is_alive_and_a_free_pid_is_not() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX - 1));
    }

    #[test]
    fn state_round_trips_through_vm_json() {
        let base = tempfile::tempdir().unwrap();
        let rt = RuntimeDir::under(base.path(), "t").unwrap();
        create_private_dir(rt.path()).unwrap();
        assert_eq!(rt.read_state().unwrap(), None);
        let state = VmState {
            name: "t".into(),
            image: "/x.squashfs".into(),
            memory_mib: 512,
            cpus: 2,
            accel: Accel::Tcg,
            started_at: 1,
            forwards: vec![],
            pid: 42,
            data_disk: None,
            vsock_cid: Some(7),
            vnc_socket: None,
            input: None,
            clipboard: false,
            qmp_socket: rt.qmp_socket(),
            console_socket: rt.console_socket(),
            console_log: rt.console_log(),
            system_ini: None,
            guest: Default::default(),
        };
        rt.write_state(&state).unwrap();
        assert_eq!(rt.read_state().unwrap(), Some(state));
    }
}
