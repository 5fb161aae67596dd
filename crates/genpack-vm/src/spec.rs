//! What to boot and how: the settings of one VM.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::accel::AccelPolicy;
use crate::connect::Guest;
use crate::firmware::FirmwareKind;
use crate::network::Network;

/// Default guest memory in MiB.
pub const DEFAULT_MEMORY_MIB: u32 = 2048;
/// Smallest guest memory accepted, in MiB.
pub const MIN_MEMORY_MIB: u32 = 128;

/// The complete description of a VM to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmSpec {
    /// VM name: runtime folder, QEMU `-name`, default MAC address and vsock CID derive from it.
    pub name: String,
    /// What to boot.
    pub boot: Boot,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Number of vCPUs.
    pub cpus: u32,
    /// The writable data disk of a genpack image.
    pub data: DataDisk,
    /// A system.ini handed to the guest through fw_cfg `opt/genpack/system.ini`.
    pub system_ini: Option<PathBuf>,
    /// Guest networking.
    pub network: Network,
    /// Host folders shared with the guest.
    pub shares: Vec<Share>,
    /// Graphical display.
    pub display: Display,
    /// Extra kernel command line (direct kernel boot only).
    pub append: Option<String>,
    /// KVM or TCG.
    pub accel: AccelPolicy,
    /// Host USB devices passed through, as `/dev/bus/usb/BBB/DDD` paths.
    pub usb_devices: Vec<PathBuf>,
    /// Extra fw_cfg strings, passed as `opt/<key>`.
    pub fw_cfg_strings: Vec<(String, String)>,
    /// Where to keep the UEFI variable store between runs; a fresh copy per run when `None`.
    pub uefi_vars: Option<PathBuf>,
    /// What the appliance offers (its definition's services and accounts): on the user-mode
    /// network each declared service gets a free host port, and [`crate::connect()`] tells how
    /// to reach it.
    pub guest: Guest,
}

impl VmSpec {
    /// A VM named `name` booting `boot` with the defaults: 2048 MiB, 1 vCPU, volatile data,
    /// user-mode network forwarding a loopback port to guest SSH (and one to each service of
    /// [`VmSpec::guest`]), VNC display, automatic
    /// accelerator.
    pub fn new(name: impl Into<String>, boot: Boot) -> Self {
        VmSpec {
            name: name.into(),
            boot,
            memory_mib: DEFAULT_MEMORY_MIB,
            cpus: 1,
            data: DataDisk::Volatile,
            system_ini: None,
            network: Network::user_with_ssh(),
            shares: Vec::new(),
            display: Display::Vnc,
            append: None,
            accel: AccelPolicy::Auto,
            usb_devices: Vec::new(),
            fw_cfg_strings: Vec::new(),
            uefi_vars: None,
            guest: Guest::default(),
        }
    }

    /// The image file (or image tree) being booted.
    pub fn image(&self) -> &PathBuf {
        match &self.boot {
            Boot::Squashfs { image } | Boot::Disk { image, .. } | Boot::Iso { image, .. } => image,
            Boot::Tree { tree } => tree,
        }
    }
}

/// What the VM boots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Boot {
    /// A genpack SquashFS image, booted directly with the kernel and initramfs read out of it.
    /// The image is the first virtio disk, read-only, with `root=block:`.
    Squashfs {
        /// The `.squashfs` file.
        image: PathBuf,
    },
    /// A whole-disk image (raw or qcow2) through firmware.
    Disk {
        /// The disk image.
        image: PathBuf,
        /// UEFI or BIOS.
        firmware: FirmwareKind,
        /// Attach the disk read-only.
        read_only: bool,
    },
    /// An ISO image as a CD-ROM through firmware.
    Iso {
        /// The ISO file.
        image: PathBuf,
        /// UEFI or BIOS.
        firmware: FirmwareKind,
    },
    /// A build's image tree, unpacked: booted directly with its own kernel and initramfs, the
    /// tree shared read-only as the root's lower layer (see [`crate::tree`]).
    Tree {
        /// The tree (a project's `work/<arch>/upper`).
        tree: PathBuf,
    },
}

/// The writable data disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum DataDisk {
    /// No data disk: the guest keeps its changes in RAM (`genpack.transient=1`).
    Volatile,
    /// A raw file, created sparse with `size_bytes` when missing.
    File {
        /// The data file.
        path: PathBuf,
        /// Size of a newly created file.
        size_bytes: u64,
    },
}

/// A host folder shared with the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Share {
    /// virtio-fs through virtiofsd (fast, needs the `virtiofsd` package).
    Virtiofs {
        /// The host folder.
        path: PathBuf,
        /// The mount tag the guest uses.
        tag: String,
    },
    /// 9p (slower, built into QEMU).
    NineP {
        /// The host folder.
        path: PathBuf,
        /// The mount tag the guest uses.
        tag: String,
        /// Refuse guest writes.
        read_only: bool,
    },
}

/// Graphical output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Display {
    /// Serial console only.
    None,
    /// A virtio-vga display served by QEMU's VNC server on the VM's private `vnc.sock`.
    Vnc,
}
