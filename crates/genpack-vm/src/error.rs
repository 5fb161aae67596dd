//! Errors of the VM engine.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while preparing, starting, driving or stopping a VM.
///
/// Each variant names the file, socket, program or VM involved, and where a fix is a package
/// install, the Debian package to install.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A file or directory operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "cannot create".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A program the VM needs is not installed.
    #[error("{program} is not installed (install the Debian package `{package}`)")]
    ProgramMissing {
        /// The program that was looked for.
        program: String,
        /// The Debian package that provides it.
        package: &'static str,
    },

    /// A firmware file is missing on the host.
    #[error("firmware {} is missing (install the Debian package `{package}`)", path.display())]
    FirmwareMissing {
        /// The file that was looked for.
        path: PathBuf,
        /// The Debian package that provides it.
        package: &'static str,
    },

    /// The image cannot be read, or has no kernel and initramfs to boot.
    #[error(transparent)]
    Image(#[from] genpack_image::ImageError),

    /// The kernel's format or architecture is not one we can boot.
    #[error("{}: {reason}", kernel.display())]
    UnsupportedKernel {
        /// Where the kernel came from.
        kernel: PathBuf,
        /// Why it cannot be booted.
        reason: String,
    },

    /// A VM name that cannot be used as a directory name.
    #[error("invalid VM name {name:?}: use letters, digits, '.', '_' and '-' (at most 64 characters, not starting with '.')")]
    InvalidName {
        /// The rejected name.
        name: String,
    },

    /// A VM with this name is already running.
    #[error("a VM named {name:?} is already running (pid {pid}); stop it or choose another name")]
    AlreadyRunning {
        /// The VM name.
        name: String,
        /// Its QEMU process.
        pid: u32,
    },

    /// The fallback runtime folder under /tmp is not safe to use (another user may own it).
    #[error("{} {reason}: VM sockets must be private; remove it, or set XDG_RUNTIME_DIR to a folder of your own", path.display())]
    UnsafeRuntimeDir {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// No running VM has this name.
    #[error("no running VM named {name:?}")]
    NotRunning {
        /// The VM name.
        name: String,
    },

    /// The VM specification is inconsistent.
    #[error("invalid VM settings: {0}")]
    InvalidSpec(String),

    /// An option needs root privileges.
    #[error("{what} needs root privileges; run as root or use the default user-mode network")]
    NeedsRoot {
        /// The option that needs root.
        what: String,
    },

    /// QEMU could not be started or exited during start-up.
    #[error("QEMU failed to start VM {name:?}: {detail}")]
    QemuFailed {
        /// The VM name.
        name: String,
        /// Exit status and the last lines of QEMU's log.
        detail: String,
    },

    /// A program we ran failed.
    #[error("{program} failed: {detail}")]
    CommandFailed {
        /// The command line, shortened.
        program: String,
        /// Exit status and stderr.
        detail: String,
    },

    /// Talking to QEMU's monitor failed.
    #[error("QMP on {}: {reason}", socket.display())]
    Qmp {
        /// The QMP socket.
        socket: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// QEMU answered a QMP command with an error.
    #[error("QMP command {command} failed: {class}: {desc}")]
    QmpCommand {
        /// The command name.
        command: String,
        /// QEMU's error class, e.g. "GenericError".
        class: String,
        /// QEMU's description.
        desc: String,
    },

    /// Reading the guest's screen over VNC failed.
    #[error("the screen of the VM ({}): {reason}", socket.display())]
    Screen {
        /// The VNC socket.
        socket: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// The VM was started without a screen.
    #[error("the VM {name:?} has no screen (it was started with the serial console only)")]
    NoScreen {
        /// The VM name.
        name: String,
    },

    /// Something did not happen in time.
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The budget in seconds.
        seconds: u64,
    },

    /// A vm.ini file is invalid.
    #[error("{}:{line}: {message}", path.display())]
    VmIni {
        /// The file.
        path: PathBuf,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// vm.json in a runtime folder cannot be read.
    #[error("{}: {source}", path.display())]
    State {
        /// The vm.json file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

impl VmError {
    /// Wraps an I/O error with what was done and to which path.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        VmError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = VmError> = std::result::Result<T, E>;
