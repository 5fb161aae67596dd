//! An open block device: exclusive, uncached (`O_DIRECT`), directly as root or through
//! UDisks2 otherwise.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::FlashError;

/// How to get at the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenMethod {
    /// `open(2)` when the process may open the node (root), UDisks2 otherwise.
    #[default]
    Auto,
    /// `open(2)` with `O_DIRECT | O_EXCL`; needs root (or write access to the node).
    Direct,
    /// `org.freedesktop.UDisks2.Block.OpenDevice` over the system D-Bus (polkit asks the user).
    UDisks,
}

/// Read-only or read-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    ReadWrite,
}

/// An open whole-disk device.
pub(crate) struct Device {
    pub file: File,
    pub path: PathBuf,
    pub size: u64,
    /// Offsets and lengths of every transfer are multiples of this.
    pub block: u64,
}

impl Device {
    pub fn open(
        path: &Path,
        access: Access,
        method: OpenMethod,
        size: u64,
        block: u32,
    ) -> Result<Device, FlashError> {
        let file = match method {
            OpenMethod::Direct => open_direct(path, access)?,
            OpenMethod::UDisks => open_udisks(path, access)?,
            OpenMethod::Auto if is_root() => open_direct(path, access)?,
            // A user with access to the node (say, in the `disk` group) needs no UDisks2.
            OpenMethod::Auto => match open_direct(path, access) {
                Err(FlashError::PermissionDenied { .. }) => open_udisks(path, access)?,
                other => other?,
            },
        };
        Ok(Device {
            file,
            path: path.to_path_buf(),
            size,
            block: u64::from(block.max(512)),
        })
    }

    /// Writes all of `buf` at `offset`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<(), FlashError> {
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            match self.file.write_at(&buf[done..], at) {
                Ok(0) => return Err(self.short("write", at)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.io("write", at, source)),
            }
        }
        Ok(())
    }

    /// Fills all of `buf` from `offset`.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<(), FlashError> {
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            match self.file.read_at(&mut buf[done..], at) {
                Ok(0) => return Err(self.short("read", at)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.io("read", at, source)),
            }
        }
        Ok(())
    }

    /// Flushes the drive's write cache: everything written so far is on the medium.
    pub fn sync(&self) -> Result<(), FlashError> {
        self.file
            .sync_all()
            .map_err(|source| self.io("flush", 0, source))
    }

    /// Asks the kernel to re-read the partition table, so partition nodes (`/dev/sdb1`) match
    /// what was written. Best effort: devices without partition support (loop devices without
    /// `partscan`) refuse, and udev re-reads on close anyway where it runs.
    pub fn reread_partitions(&self) {
        /// `_IO(0x12, 95)` from `<linux/fs.h>`.
        const BLKRRPART: libc::c_ulong = 0x125f;
        // SAFETY: BLKRRPART takes no argument; the fd is a valid open block device.
        unsafe {
            libc::ioctl(self.file.as_raw_fd(), BLKRRPART as _);
        }
    }

    /// Writes zeros over `start..end` (aligned to the block size), `zeros` as the source.
    pub fn zero(&self, start: u64, end: u64, zeros: &[u8]) -> Result<u64, FlashError> {
        let mut at = start;
        while at < end {
            let n = (end - at).min(zeros.len() as u64) as usize;
            self.write_at(&zeros[..n], at)?;
            at += n as u64;
        }
        Ok(end.saturating_sub(start))
    }

    pub fn io(&self, op: &'static str, offset: u64, source: io::Error) -> FlashError {
        FlashError::Io {
            device: self.path.clone(),
            op,
            offset,
            source,
        }
    }

    fn short(&self, op: &'static str, offset: u64) -> FlashError {
        FlashError::Short {
            device: self.path.clone(),
            op,
            offset,
        }
    }
}

fn open_direct(path: &Path, access: Access) -> Result<File, FlashError> {
    let mut options = OpenOptions::new();
    options.read(true);
    let mut flags = libc::O_DIRECT | libc::O_CLOEXEC;
    if access == Access::ReadWrite {
        options.write(true);
        flags |= libc::O_EXCL;
    }
    options
        .custom_flags(flags)
        .open(path)
        .map_err(|source| open_error(path, source))
}

const UDISKS: &str = "org.freedesktop.UDisks2";
const UDISKS_PATH: &str = "/org/freedesktop/UDisks2/Manager";
const BLOCK_INTERFACE: &str = "org.freedesktop.UDisks2.Block";

/// The polkit action UDisks2 checks before opening a removable or USB drive.
pub const OPEN_DEVICE_ACTION: &str = "org.freedesktop.udisks2.open-device";
/// The polkit action UDisks2 checks before opening a device it counts as part of the system
/// (an internal disk, a loop device).
pub const OPEN_SYSTEM_DEVICE_ACTION: &str = "org.freedesktop.udisks2.open-device-system";

/// Opens a whole-disk block device as an ordinary file (buffered, for small reads and writes
/// such as a FAT boot partition's): directly when the process may (root, or a user with
/// access to the node), else through UDisks2 `Block.OpenDevice`, where polkit decides and may
/// ask for a password. `write` opens it exclusively (`O_EXCL`: refused while mounted).
pub fn open_block_device(path: &Path, write: bool) -> Result<File, FlashError> {
    let mut options = OpenOptions::new();
    options.read(true).write(write);
    let mut flags = libc::O_CLOEXEC;
    if write {
        flags |= libc::O_EXCL;
    }
    match options.custom_flags(flags).open(path) {
        Ok(file) => Ok(file),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) && !is_root() => {
            let (mode, flags) = if write {
                ("rw", libc::O_EXCL)
            } else {
                ("r", 0)
            };
            open_udisks_with(path, mode, flags)
        }
        Err(source) => Err(open_error(path, source)),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn open_error(path: &Path, source: io::Error) -> FlashError {
    match source.raw_os_error() {
        Some(libc::EBUSY) => FlashError::Busy {
            device: path.to_path_buf(),
        },
        Some(libc::EACCES | libc::EPERM) => FlashError::PermissionDenied {
            device: path.to_path_buf(),
        },
        Some(libc::EROFS) => FlashError::Refused {
            device: path.to_path_buf(),
            reason: crate::drives::Refusal::ReadOnly,
        },
        _ => FlashError::Io {
            device: path.to_path_buf(),
            op: "open",
            offset: 0,
            source,
        },
    }
}

fn open_udisks(path: &Path, access: Access) -> Result<File, FlashError> {
    let (mode, flags) = match access {
        Access::Read => ("r", libc::O_DIRECT),
        Access::ReadWrite => ("rw", libc::O_DIRECT | libc::O_EXCL),
    };
    open_udisks_with(path, mode, flags)
}

/// `Block.OpenDevice` of UDisks2 for `path`: the file descriptor udisksd opened for us after
/// polkit allowed it.
fn open_udisks_with(path: &Path, mode: &str, flags: i32) -> Result<File, FlashError> {
    use zbus::zvariant::{OwnedFd as DbusFd, OwnedObjectPath, OwnedValue, Value};

    let device = path.to_path_buf();
    let fail = |step: &'static str, e: zbus::Error| match method_error(&e) {
        Some((name, _)) if is_missing_service(name) => FlashError::UDisksMissing {
            device: device.clone(),
            message: e.to_string(),
        },
        _ => FlashError::UDisks {
            device: device.clone(),
            step,
            message: e.to_string(),
        },
    };
    let bus = zbus::blocking::Connection::system().map_err(|e| FlashError::NoSystemBus {
        device: device.clone(),
        message: e.to_string(),
    })?;
    let name = path.to_string_lossy().into_owned();
    let mut spec: HashMap<&str, Value> = HashMap::new();
    spec.insert("path", Value::from(name.as_str()));
    let no_options: HashMap<&str, Value> = HashMap::new();
    let objects: Vec<OwnedObjectPath> = bus
        .call_method(
            Some(UDISKS),
            UDISKS_PATH,
            Some("org.freedesktop.UDisks2.Manager"),
            "ResolveDevice",
            &(spec, &no_options),
        )
        .and_then(|reply| reply.body().deserialize())
        .map_err(|e| fail("find the device", e))?;
    let Some(object) = objects.first() else {
        return Err(FlashError::UDisks {
            device,
            step: "find the device",
            message: "UDisks2 does not know this device".into(),
        });
    };
    // Which polkit action udisksd will ask for, to name it if it is refused.
    let system: bool = bus
        .call_method(
            Some(UDISKS),
            object.as_str(),
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(BLOCK_INTERFACE, "HintSystem"),
        )
        .and_then(|reply| reply.body().deserialize::<OwnedValue>())
        .ok()
        .and_then(|value| bool::try_from(value).ok())
        .unwrap_or(true);
    let action = if system {
        OPEN_SYSTEM_DEVICE_ACTION
    } else {
        OPEN_DEVICE_ACTION
    };
    let mut options: HashMap<&str, Value> = HashMap::new();
    options.insert("flags", Value::from(flags));
    let fd: DbusFd = bus
        .call_method(
            Some(UDISKS),
            object.as_str(),
            Some(BLOCK_INTERFACE),
            "OpenDevice",
            &(mode, options),
        )
        .and_then(|reply| reply.body().deserialize())
        .map_err(|e| match method_error(&e) {
            Some((name, message))
                if name.starts_with("org.freedesktop.UDisks2.Error.NotAuthorized") =>
            {
                FlashError::NotAuthorized {
                    device: device.clone(),
                    action,
                    reason: refusal_reason(name, message),
                }
            }
            Some((_, message)) if message.contains("Device or resource busy") => FlashError::Busy {
                device: device.clone(),
            },
            _ => fail("open the device", e),
        })?;
    Ok(File::from(OwnedFd::from(fd)))
}

/// The D-Bus error name and message of a method call's error reply.
fn method_error(error: &zbus::Error) -> Option<(&str, String)> {
    match error {
        zbus::Error::MethodError(name, message, _) => {
            Some((name.as_str(), message.clone().unwrap_or_default()))
        }
        _ => None,
    }
}

/// Errors of the bus when no process owns (and nothing can start) the UDisks2 name.
fn is_missing_service(name: &str) -> bool {
    matches!(
        name,
        "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner"
            | "org.freedesktop.systemd1.NoSuchUnit"
            | "org.freedesktop.DBus.Error.Spawn.ServiceNotFound"
    )
}

/// Why polkit (through udisksd) said no, in words for the user.
fn refusal_reason(name: &str, message: String) -> String {
    if message.contains("polkit authority not available") {
        "polkit is not running (install the polkitd package and start it)".into()
    } else if name.ends_with("NotAuthorizedDismissed") {
        "the password dialog was dismissed".into()
    } else if name.ends_with("NotAuthorizedCanObtain") {
        "it needs an administrator password and no password dialog could be shown (no polkit authentication agent runs for this session)".into()
    } else {
        "polkit does not allow it for this user".into()
    }
}
