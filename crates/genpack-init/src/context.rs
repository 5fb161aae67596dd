//! What a provisioning module works on, and what it reports back.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where the initramfs leaves the boot partition, the read-only image and the writable layer.
pub const INITRAMFS_RUN: &str = "run/initramfs";

/// The tree the modules configure and how.
#[derive(Clone, Debug)]
pub struct Context {
    /// Root of the system being configured: `/` at boot, a directory for `apply --root`.
    pub root: PathBuf,
    /// Report what would change without changing anything.
    pub dry_run: bool,
    /// True when running as PID 1 on the booting system (commands such as `swapon` may run).
    pub live: bool,
    /// The system.ini file being applied (drop-in modules read it).
    pub ini_path: Option<PathBuf>,
}

impl Context {
    /// A context for the booting system (`/`).
    pub fn live(ini_path: Option<PathBuf>) -> Self {
        Self {
            root: PathBuf::from("/"),
            dry_run: false,
            live: true,
            ini_path,
        }
    }

    /// A context for an offline tree.
    pub fn offline(root: impl Into<PathBuf>, ini_path: Option<PathBuf>, dry_run: bool) -> Self {
        Self {
            root: root.into(),
            dry_run,
            live: false,
            ini_path,
        }
    }

    /// A path inside the configured tree (`rel` may start with `/`).
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        let rel = rel.as_ref();
        let rel = rel.strip_prefix("/").unwrap_or(rel);
        self.root.join(rel)
    }

    /// The boot partition mount (`/run/initramfs/boot`) inside the tree.
    pub fn boot_dir(&self) -> PathBuf {
        self.path(INITRAMFS_RUN).join("boot")
    }

    /// The writable layer mount (`/run/initramfs/rw`) inside the tree.
    pub fn rw_dir(&self) -> PathBuf {
        self.path(INITRAMFS_RUN).join("rw")
    }
}

/// What a module did (or would do) to one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Absolute path inside the configured tree (e.g. `/etc/hostname`).
    pub path: String,
    /// What happened.
    pub action: Action,
    /// One line for people, e.g. "hostname set to kiosk".
    pub summary: String,
}

/// Kinds of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A file was created or its contents replaced.
    Wrote,
    /// A file was deleted.
    Removed,
    /// A symbolic link was created or re-pointed.
    Linked,
    /// Permissions or ownership changed.
    Permissions,
    /// A command ran (e.g. `swapon`).
    Ran,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.action {
            Action::Wrote => "write",
            Action::Removed => "remove",
            Action::Linked => "link",
            Action::Permissions => "chmod",
            Action::Ran => "run",
        };
        write!(f, "{verb} {} ({})", self.path, self.summary)
    }
}
