//! Drive discovery: which whole disks exist, what is on them, and which may be written.
//!
//! Facts come from udev properties when a udev database exists, and from sysfs attributes
//! otherwise (containers and build machines often have no udevd). Mount state comes from
//! `/proc/self/mountinfo` and `/proc/swaps`, device-mapper/md stacking from `holders/` and
//! `slaves/`, loop devices from their backing file.

mod root;
mod watch;

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

pub use watch::{DriveEvent, Watcher};

use crate::error::DriveError;
pub use genpack_util::human_size;
use genpack_util::mounts::MountTable;

/// The bus a drive hangs on, as far as the kernel tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bus {
    Usb,
    Ata,
    Nvme,
    /// SD cards and eMMC.
    Mmc,
    Virtio,
    Scsi,
    /// A loop device backed by a file.
    Loop,
    Other,
}

impl fmt::Display for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bus::Usb => "usb",
            Bus::Ata => "ata",
            Bus::Nvme => "nvme",
            Bus::Mmc => "mmc",
            Bus::Virtio => "virtio",
            Bus::Scsi => "scsi",
            Bus::Loop => "loop",
            Bus::Other => "other",
        })
    }
}

/// A filesystem (or partition table) signature found on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filesystem {
    /// `vfat`, `ext4`, `iso9660`, `squashfs`...
    pub fs_type: String,
    pub label: Option<String>,
    pub uuid: Option<String>,
}

/// A partition of a [`Drive`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// Kernel name, e.g. `sdb1`.
    pub name: String,
    /// Device node, e.g. `/dev/sdb1`.
    pub path: PathBuf,
    /// Offset from the start of the drive, in bytes.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
    pub filesystem: Option<Filesystem>,
    /// Where it is mounted (`[SWAP]` for active swap).
    pub mountpoints: Vec<PathBuf>,
    /// Kernel devices stacked on it (`dm-0` for LUKS/LVM, `md0` for RAID).
    pub holders: Vec<String>,
}

/// A whole disk: a USB stick, SD card, internal disk or attached loop device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drive {
    /// Device node, e.g. `/dev/sdb`.
    pub path: PathBuf,
    /// Kernel name, e.g. `sdb`.
    pub name: String,
    /// `(major, minor)`.
    pub devnum: (u32, u32),
    pub vendor: Option<String>,
    /// The product name; for a loop device, its backing file.
    pub model: Option<String>,
    pub serial: Option<String>,
    /// Size in bytes.
    pub size: u64,
    pub logical_sector_size: u32,
    pub physical_sector_size: u32,
    pub bus: Bus,
    /// The user can unplug it: the kernel's removable flag, or a USB drive, an SD card, or a
    /// loop device (which stands for a file the user attached).
    pub removable: bool,
    pub read_only: bool,
    /// For a loop device: the file behind it.
    pub backing_file: Option<PathBuf>,
    /// The kernel's media sequence number: changes whenever another medium appears at this
    /// path (re-plug, loop re-attach). `None` on kernels before 5.15.
    pub diskseq: Option<u64>,
    /// Partition table type (`dos`, `gpt`), when one is found.
    pub partition_table: Option<String>,
    /// A filesystem on the whole disk (a superfloppy or an ISO).
    pub filesystem: Option<Filesystem>,
    /// Where the whole disk itself is mounted.
    pub mountpoints: Vec<PathBuf>,
    pub holders: Vec<String>,
    pub partitions: Vec<Partition>,
    /// The running system's root filesystem lives (partly) on this disk.
    pub holds_root: bool,
}

/// Why a drive is not offered for writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// The running system's `/` is on it (directly, through a partition, device-mapper, md or
    /// a loop file).
    HoldsRoot,
    /// The disk or one of its partitions is mounted (or is active swap).
    Mounted {
        device: PathBuf,
        mountpoint: PathBuf,
    },
    /// Another kernel device (LVM, LUKS, RAID) is built on it.
    InUse {
        device: PathBuf,
        holder: String,
    },
    ReadOnly,
    /// No medium (an empty card reader) or a zero-size device.
    Empty,
    /// An internal disk; shown only when the user asks for all drives.
    Fixed,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::HoldsRoot => f.write_str("it holds the running system"),
            Refusal::Mounted { device, mountpoint } => write!(
                f,
                "{} is mounted on {}; unmount it first",
                device.display(),
                mountpoint.display()
            ),
            Refusal::InUse { device, holder } => write!(
                f,
                "{} is in use by {holder} (LVM, encryption or RAID)",
                device.display()
            ),
            Refusal::ReadOnly => f.write_str("it is read-only (check the stick's lock switch)"),
            Refusal::Empty => f.write_str("it has no medium or is empty"),
            Refusal::Fixed => {
                f.write_str("it is an internal disk; list all drives explicitly to write to it")
            }
        }
    }
}

impl Drive {
    /// Why this drive may not be written, or `None` when it may. `include_fixed` admits
    /// internal (non-removable) disks, as the user's "show all drives" does; the disk holding
    /// `/`, mounted or stacked-on disks, read-only and empty devices are refused regardless.
    pub fn refusal(&self, include_fixed: bool) -> Option<Refusal> {
        if self.holds_root {
            return Some(Refusal::HoldsRoot);
        }
        if let Some(mountpoint) = self.mountpoints.first() {
            return Some(Refusal::Mounted {
                device: self.path.clone(),
                mountpoint: mountpoint.clone(),
            });
        }
        for part in &self.partitions {
            if let Some(mountpoint) = part.mountpoints.first() {
                return Some(Refusal::Mounted {
                    device: part.path.clone(),
                    mountpoint: mountpoint.clone(),
                });
            }
        }
        let mut stacked = self.holders.iter().map(|h| (&self.path, h)).chain(
            self.partitions
                .iter()
                .flat_map(|p| p.holders.iter().map(move |h| (&p.path, h))),
        );
        if let Some((device, holder)) = stacked.next() {
            return Some(Refusal::InUse {
                device: device.clone(),
                holder: holder.clone(),
            });
        }
        if self.read_only {
            return Some(Refusal::ReadOnly);
        }
        if self.size == 0 {
            return Some(Refusal::Empty);
        }
        if !self.removable && !include_fixed {
            return Some(Refusal::Fixed);
        }
        None
    }

    /// Whether the drive may be offered for writing; see [`Drive::refusal`].
    pub fn is_offerable(&self, include_fixed: bool) -> bool {
        self.refusal(include_fixed).is_none()
    }

    /// The drive's name for people: vendor and model (`SanDisk Ultra`), for a loop device
    /// its backing file, else the bus (`usb disk`).
    pub fn display_name(&self) -> String {
        match (&self.vendor, &self.model) {
            (Some(v), Some(m)) if !m.starts_with(v.as_str()) => format!("{v} {m}"),
            (_, Some(m)) => m.clone(),
            (Some(v), None) => v.clone(),
            (None, None) => format!("{} disk", self.bus),
        }
    }

    /// What to show and confirm: `"SanDisk Ultra, 14.9 GiB (/dev/sdb)"`.
    pub fn description(&self) -> String {
        format!(
            "{}, {} ({})",
            self.display_name(),
            human_size(self.size),
            self.path.display()
        )
    }

    /// Labels of the file systems on it now, which a write erases.
    pub fn labels(&self) -> Vec<String> {
        self.filesystem
            .iter()
            .chain(self.partitions.iter().filter_map(|p| p.filesystem.as_ref()))
            .filter_map(|fs| fs.label.clone())
            .collect()
    }
}

/// The drives a picker offers, and how many internal disks it leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// Drives that may be written: never the disk holding `/`, nothing mounted, stacked on,
    /// read-only or empty; internal disks only when all drives are shown.
    pub drives: Vec<Drive>,
    /// Internal disks not offered because all drives are not shown.
    pub hidden_internal: usize,
}

/// Picks the drives to offer from `all`; internal disks only with `show_all`.
pub fn offered(all: Vec<Drive>, show_all: bool) -> Offered {
    let hidden_internal = all
        .iter()
        .filter(|drive| !show_all && drive.refusal(false) == Some(Refusal::Fixed))
        .count();
    Offered {
        drives: all
            .into_iter()
            .filter(|drive| drive.is_offerable(show_all))
            .collect(),
        hidden_internal,
    }
}

/// Lists whole disks (physical disks and attached loop devices; not optical drives, RAM
/// disks, zram, device-mapper or md devices, which are built on other disks), sorted by name.
pub fn list() -> Result<Vec<Drive>, DriveError> {
    let context = Context::read()?;
    let mut enumerator = udev::Enumerator::new().map_err(udev_error)?;
    enumerator.match_subsystem("block").map_err(udev_error)?;
    let mut drives = Vec::new();
    for device in enumerator.scan_devices().map_err(udev_error)? {
        if device.devtype().is_some_and(|t| t == "disk") && is_listed(&device) {
            drives.push(describe(&device, &context));
        }
    }
    drives.sort_by_key(|d| natural_key(&d.name));
    Ok(drives)
}

/// Describes the whole disk at `path` (a device node such as `/dev/sdb`, or a symlink to one).
pub fn probe(path: &Path) -> Result<Drive, DriveError> {
    let not_a_disk = |why: &str| DriveError::NotADisk {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let meta = fs::metadata(path).map_err(|source| DriveError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.file_type().is_block_device() {
        return Err(not_a_disk("not a block device"));
    }
    let device = udev::Device::from_devnum(udev::DeviceType::Block, meta.rdev())
        .map_err(|_| not_a_disk("unknown to the kernel"))?;
    if device.devtype().is_none_or(|t| t != "disk") {
        return Err(not_a_disk("a partition; choose the whole disk"));
    }
    Ok(describe(&device, &Context::read()?))
}

/// [`probe`] for the watcher: `None` for devices [`list`] would leave out (and gone ones).
fn probe_if_listed(path: &Path) -> Option<Drive> {
    let meta = fs::metadata(path).ok()?;
    let device = udev::Device::from_devnum(udev::DeviceType::Block, meta.rdev()).ok()?;
    if device.devtype().is_none_or(|t| t != "disk") || !is_listed(&device) {
        return None;
    }
    Some(describe(&device, &Context::read().ok()?))
}

/// Kernel names of the disks holding the running system's `/` (the disk itself and every
/// device-mapper, md or loop device in between).
pub fn root_disks() -> Result<BTreeSet<String>, DriveError> {
    Ok(root::disks_holding_root(&read_mounts()?))
}

/// System state shared by all drives of one listing.
struct Context {
    mounts: MountTable,
    root_disks: BTreeSet<String>,
    can_probe: bool,
}

impl Context {
    fn read() -> Result<Context, DriveError> {
        let mounts = read_mounts()?;
        let root_disks = root::disks_holding_root(&mounts);
        // SAFETY: geteuid has no preconditions.
        let can_probe = unsafe { libc::geteuid() } == 0;
        Ok(Context {
            mounts,
            root_disks,
            can_probe,
        })
    }
}

fn read_mounts() -> Result<MountTable, DriveError> {
    MountTable::read().map_err(|source| DriveError::Read {
        path: PathBuf::from("/proc/self/mountinfo"),
        source,
    })
}

fn udev_error(source: std::io::Error) -> DriveError {
    DriveError::Udev { source }
}

/// Physical disks (not optical drives), plus loop devices that have a file attached.
fn is_listed(device: &udev::Device) -> bool {
    let name = device.sysname().to_string_lossy();
    if name.starts_with("sr") {
        return false;
    }
    if name.starts_with("loop") {
        return device.syspath().join("loop/backing_file").exists();
    }
    !device.syspath().starts_with("/sys/devices/virtual")
}

fn describe(device: &udev::Device, context: &Context) -> Drive {
    let sys = device.syspath().to_path_buf();
    let name = device.sysname().to_string_lossy().into_owned();
    let path = device
        .devnode()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/dev").join(&name));
    let devnum = device.devnum().map(split_devnum).unwrap_or((0, 0));
    let bus = bus_of(device, &name);
    let backing_file = read_attr(&sys.join("loop/backing_file")).map(PathBuf::from);

    let vendor = prop(device, "ID_VENDOR").or_else(|| read_attr(&sys.join("device/vendor")));
    let model = prop(device, "ID_MODEL")
        .or_else(|| read_attr(&sys.join("device/model")))
        .or_else(|| read_attr(&sys.join("device/name")))
        .or_else(|| backing_file.as_ref().map(|f| f.display().to_string()));
    let serial = prop(device, "ID_SERIAL_SHORT")
        .or_else(|| read_attr(&sys.join("device/serial")))
        .or_else(|| read_attr(&sys.join("serial")))
        .or_else(|| usb_serial(device));

    let kernel_removable = read_attr(&sys.join("removable")).as_deref() == Some("1");
    let sd_card = bus == Bus::Mmc && read_attr(&sys.join("device/type")).as_deref() == Some("SD");
    let removable = kernel_removable || sd_card || matches!(bus, Bus::Usb | Bus::Loop);

    let signature = probe_signature(device, &path, context);
    let partitions = partitions_of(&sys, context);

    Drive {
        mountpoints: context.mounts.uses_of(devnum, &path),
        holders: list_dir(&sys.join("holders")),
        holds_root: context.root_disks.contains(&name),
        size: sectors_attr(&sys.join("size")),
        logical_sector_size: number_attr(&sys.join("queue/logical_block_size")).unwrap_or(512),
        physical_sector_size: number_attr(&sys.join("queue/physical_block_size")).unwrap_or(512),
        read_only: read_attr(&sys.join("ro")).as_deref() == Some("1"),
        diskseq: number_attr(&sys.join("diskseq")),
        partition_table: signature.partition_table,
        filesystem: signature.filesystem,
        path,
        name,
        devnum,
        vendor,
        model,
        serial,
        bus,
        removable,
        backing_file,
        partitions,
    }
}

fn partitions_of(sys: &Path, context: &Context) -> Vec<Partition> {
    let mut parts: Vec<Partition> = list_dir(sys)
        .into_iter()
        .filter(|entry| sys.join(entry).join("partition").exists())
        .filter_map(|name| {
            let psys = sys.join(&name);
            let device = udev::Device::from_syspath(&psys).ok()?;
            let path = device
                .devnode()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/dev").join(&name));
            let devnum = device.devnum().map(split_devnum).unwrap_or((0, 0));
            Some(Partition {
                filesystem: probe_signature(&device, &path, context).filesystem,
                mountpoints: context.mounts.uses_of(devnum, &path),
                holders: list_dir(&psys.join("holders")),
                start: sectors_attr(&psys.join("start")),
                size: sectors_attr(&psys.join("size")),
                name,
                path,
            })
        })
        .collect();
    parts.sort_by_key(|p| p.start);
    parts
}

#[derive(Default)]
struct Signature {
    partition_table: Option<String>,
    filesystem: Option<Filesystem>,
}

/// Filesystem and partition-table signatures: udev's properties when it probed the device,
/// else `blkid -p` (root only; it reads the device).
fn probe_signature(device: &udev::Device, path: &Path, context: &Context) -> Signature {
    let from_udev = |key: &str| prop(device, key);
    if from_udev("ID_FS_TYPE").is_some() || from_udev("ID_PART_TABLE_TYPE").is_some() {
        return Signature {
            partition_table: from_udev("ID_PART_TABLE_TYPE"),
            filesystem: from_udev("ID_FS_TYPE").map(|fs_type| Filesystem {
                fs_type,
                label: from_udev("ID_FS_LABEL"),
                uuid: from_udev("ID_FS_UUID"),
            }),
        };
    }
    if !context.can_probe || sectors_attr(&device.syspath().join("size")) == 0 {
        return Signature::default();
    }
    let Ok(output) = Command::new("blkid")
        .args(["-p", "-o", "export"])
        .arg(path)
        .output()
    else {
        return Signature::default();
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    Signature {
        partition_table: value("PTTYPE"),
        filesystem: value("TYPE").map(|fs_type| Filesystem {
            fs_type,
            label: value("LABEL"),
            uuid: value("UUID"),
        }),
    }
}

fn bus_of(device: &udev::Device, name: &str) -> Bus {
    match prop(device, "ID_BUS").as_deref() {
        Some("usb") => return Bus::Usb,
        Some("ata") => return Bus::Ata,
        Some("nvme") => return Bus::Nvme,
        Some("scsi") => return Bus::Scsi,
        _ => {}
    }
    if name.starts_with("loop") {
        return Bus::Loop;
    }
    if name.starts_with("nvme") {
        return Bus::Nvme;
    }
    if name.starts_with("mmcblk") {
        return Bus::Mmc;
    }
    let mut parent = device.parent();
    let mut scsi = false;
    while let Some(p) = parent {
        match p.subsystem().and_then(|s| s.to_str()) {
            Some("usb") => return Bus::Usb,
            Some("virtio") => return Bus::Virtio,
            Some("nvme") => return Bus::Nvme,
            Some("mmc") => return Bus::Mmc,
            Some("ata_port") => return Bus::Ata,
            Some("scsi") => scsi = true,
            _ => {}
        }
        if p.syspath().file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            n.starts_with("ata") && n[3..].chars().all(|c| c.is_ascii_digit())
        }) {
            return Bus::Ata;
        }
        parent = p.parent();
    }
    if scsi {
        Bus::Scsi
    } else {
        Bus::Other
    }
}

fn usb_serial(device: &udev::Device) -> Option<String> {
    let usb = device
        .parent_with_subsystem_devtype("usb", "usb_device")
        .ok()??;
    usb.attribute_value("serial")
        .map(|v| v.to_string_lossy().trim().to_string())
        .filter(|s| !s.is_empty())
}

fn prop(device: &udev::Device, key: &str) -> Option<String> {
    device
        .property_value(key)
        .map(|v| v.to_string_lossy().replace('_', " ").trim().to_string())
        .filter(|s| !s.is_empty())
}

fn read_attr(path: &Path) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn number_attr<T: std::str::FromStr>(path: &Path) -> Option<T> {
    read_attr(path)?.parse().ok()
}

/// sysfs sizes and offsets are in 512-byte units whatever the sector size.
fn sectors_attr(path: &Path) -> u64 {
    number_attr::<u64>(path).unwrap_or(0).saturating_mul(512)
}

fn list_dir(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn split_devnum(dev: libc::dev_t) -> (u32, u32) {
    (libc::major(dev), libc::minor(dev))
}

/// Sorts `sdb` before `sdaa` and `loop2` before `loop10`.
fn natural_key(name: &str) -> (String, usize, String, u64) {
    let split = name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, digits) = name.split_at(split);
    let family = ["xvd", "sd", "vd", "hd", "nvme", "mmcblk", "loop"]
        .into_iter()
        .find(|f| stem.starts_with(f))
        .unwrap_or(stem);
    (
        family.to_string(),
        stem.len(),
        stem.to_string(),
        digits.parse().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stick() -> Drive {
        Drive {
            path: PathBuf::from("/dev/sdb"),
            name: "sdb".into(),
            devnum: (8, 16),
            vendor: Some("SanDisk".into()),
            model: Some("Ultra".into()),
            serial: Some("4C53".into()),
            size: 16_008_609_792,
            logical_sector_size: 512,
            physical_sector_size: 512,
            bus: Bus::Usb,
            removable: true,
            read_only: false,
            backing_file: None,
            diskseq: Some(12),
            partition_table: Some("dos".into()),
            filesystem: None,
            mountpoints: vec![],
            holders: vec![],
            partitions: vec![Partition {
                name: "sdb1".into(),
                path: PathBuf::from("/dev/sdb1"),
                start: 1 << 20,
                size: 1 << 30,
                filesystem: None,
                mountpoints: vec![],
                holders: vec![],
            }],
            holds_root: false,
        }
    }

    #[test]
    fn a_plain_stick_is_offered_and_described_by_name_and_size() {
        let drive = stick();
        assert_eq!(drive.refusal(false), None);
        assert_eq!(drive.description(), "SanDisk Ultra, 14.9 GiB (/dev/sdb)");
    }

    #[test]
    fn refusals_name_the_reason_in_order_of_danger() {
        let mut drive = stick();
        drive.partitions[0].mountpoints = vec![PathBuf::from("/media/x")];
        assert_eq!(
            drive.refusal(true),
            Some(Refusal::Mounted {
                device: PathBuf::from("/dev/sdb1"),
                mountpoint: PathBuf::from("/media/x")
            })
        );
        drive.holds_root = true;
        assert_eq!(drive.refusal(true), Some(Refusal::HoldsRoot));

        let mut drive = stick();
        drive.partitions[0].holders = vec!["dm-0".into()];
        assert!(matches!(drive.refusal(true), Some(Refusal::InUse { .. })));

        let mut drive = stick();
        drive.read_only = true;
        assert_eq!(drive.refusal(true), Some(Refusal::ReadOnly));

        let mut drive = stick();
        drive.size = 0;
        assert_eq!(drive.refusal(true), Some(Refusal::Empty));

        let mut drive = stick();
        drive.removable = false;
        assert_eq!(drive.refusal(false), Some(Refusal::Fixed));
        assert_eq!(drive.refusal(true), None);
    }

    #[test]
    fn serialises_for_the_studio() {
        let refusal = Refusal::Mounted {
            device: PathBuf::from("/dev/sdb1"),
            mountpoint: PathBuf::from("/media/x"),
        };
        assert_eq!(
            serde_json::to_value(&refusal).unwrap(),
            serde_json::json!({"kind": "mounted", "device": "/dev/sdb1", "mountpoint": "/media/x"})
        );
        let event = serde_json::to_value(DriveEvent::Added(stick())).unwrap();
        assert_eq!(event["event"], "added");
        assert_eq!(event["drive"]["bus"], "usb");
        assert_eq!(event["drive"]["size"], 16_008_609_792u64);
    }

    #[test]
    fn names_sort_naturally() {
        let mut names = vec!["sdaa", "loop10", "sdb", "loop2", "nvme0n1"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["loop2", "loop10", "nvme0n1", "sdb", "sdaa"]);
    }

    #[test]
    fn sizes_read_like_labels() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(64 << 20), "64.0 MiB");
    }
}
