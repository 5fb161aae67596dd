//! The QEMU command line for a [`VmSpec`](crate::VmSpec).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::boot_files::{Arch, BootFiles};
use crate::firmware::Firmware;
use crate::input::InputDevices;
use crate::network::Network;
use crate::runtime::RuntimeDir;
use crate::spec::{Boot, DataDisk, Display, Share, VmSpec};
use crate::status::Accel;

/// Everything decided before QEMU starts, besides the spec itself.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Guest architecture.
    pub arch: Arch,
    /// The accelerator.
    pub accel: Accel,
    /// Kernel and initramfs, for a SquashFS boot.
    pub boot_files: Option<BootFiles>,
    /// Firmware, for a disk or ISO boot.
    pub firmware: Option<Firmware>,
    /// The writable UEFI variable store of this VM.
    pub uefi_vars: Option<PathBuf>,
    /// The vsock CID, when the host has vhost-vsock.
    pub vsock_cid: Option<u32>,
    /// One virtiofsd socket per virtio-fs share, in the order of the spec's shares.
    pub virtiofs_sockets: Vec<PathBuf>,
    /// Keyboard and pointer for the screen, from the drivers of the guest's kernel.
    pub input: InputDevices,
    /// The guest runs spice-vdagent: the screen gets a qemu-vdagent channel for the clipboard.
    pub clipboard: bool,
}

/// Escapes a value for QEMU's comma-separated option syntax.
fn esc(path: &Path) -> String {
    path.to_string_lossy().replace(',', ",,")
}

/// The default MAC address of the VM `name`: 52:54:00 followed by three bytes of SHA-256(name).
pub fn mac_address(name: &str) -> String {
    let d = Sha256::digest(name.as_bytes());
    format!("52:54:00:{:02x}:{:02x}:{:02x}", d[0], d[1], d[2])
}

/// The kernel command line of a direct boot.
pub fn kernel_command_line(spec: &VmSpec, arch: Arch) -> String {
    let serial = match arch {
        Arch::X86_64 => "ttyS0,115200",
        Arch::Aarch64 => "ttyAMA0,115200",
    };
    let mut line = crate::tree::root_option(spec);
    line.push_str(" ro");
    // The last console= becomes /dev/console: keep it the serial port.
    if spec.display == Display::Vnc {
        line.push_str(" console=tty0");
    }
    line.push_str(" console=");
    line.push_str(serial);
    if spec.data == DataDisk::Volatile {
        line.push_str(" genpack.transient=1");
    }
    if let Some(extra) = spec.append.as_deref().filter(|a| !a.trim().is_empty()) {
        line.push(' ');
        line.push_str(extra.trim());
    }
    line
}

/// The CPU QEMU emulates without KVM: every feature TCG can emulate (`max`).
///
/// On x86_64, `max` calls itself an AMD CPU of family 6, a family of 32-bit Athlons. LLVM
/// believes it: llvmpipe, the software OpenGL every Linux desktop, compositor and browser
/// falls back to without a 3D graphics driver, then aborts the program on its first frame
/// ("LLVM ERROR: 64-bit code requested on a subtarget that doesn't support it!"). Family 15,
/// the first 64-bit AMD family, lets it draw; the features stay those of `max`, and the guest
/// kernel sees no CPU bugs that family 6 did not have.
pub fn tcg_cpu(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "max,family=15",
        Arch::Aarch64 => "max",
    }
}

/// Builds QEMU's arguments (without the program itself).
pub fn qemu_args(spec: &VmSpec, prepared: &Prepared, runtime: &RuntimeDir) -> Vec<OsString> {
    let mut a = Args::default();
    let mem = spec.memory_mib;

    let machine = match prepared.arch {
        Arch::X86_64 => "q35",
        Arch::Aarch64 => "virt",
    };
    a.push("-name")
        .push(format!("{},debug-threads=on", spec.name));
    a.push("-machine")
        .push(format!("{machine},memory-backend=mem"));
    match prepared.accel {
        Accel::Kvm => a.push("-accel").push("kvm").push("-cpu").push("host"),
        Accel::Tcg => a
            .push("-accel")
            .push("tcg,thread=multi")
            .push("-cpu")
            .push(tcg_cpu(prepared.arch)),
    };
    a.push("-m").push(format!("{mem}M"));
    // A shared memfd backend lets vhost-user devices (virtio-fs) map guest memory.
    a.push("-object")
        .push(format!("memory-backend-memfd,id=mem,size={mem}M,share=on"));
    a.push("-smp").push(spec.cpus.to_string());
    a.push("-nodefaults").push("-no-user-config");
    a.push("-rtc").push("base=utc");
    a.push("-device").push("virtio-rng-pci");
    a.push("-pidfile").push(runtime.pid_file());
    a.push("-qmp").push(format!(
        "unix:{},server=on,wait=off",
        esc(&runtime.qmp_socket())
    ));
    a.push("-chardev").push(format!(
        "socket,id=console,path={},server=on,wait=off,logfile={},logappend=on",
        esc(&runtime.console_socket()),
        esc(&runtime.console_log())
    ));
    a.push("-serial").push("chardev:console");
    a.push("-fw_cfg").push(format!(
        "name=opt/vmname,string={}",
        spec.name.replace(',', ",,")
    ));

    match &spec.boot {
        Boot::Squashfs { image } => {
            if let Some(files) = &prepared.boot_files {
                a.push("-kernel").push(&files.kernel);
                a.push("-initrd").push(&files.initramfs);
                a.push("-append")
                    .push(kernel_command_line(spec, prepared.arch));
            }
            a.push("-drive").push(format!(
                "file={},format=raw,if=none,readonly=on,id=system",
                esc(image)
            ));
            a.push("-device")
                .push("virtio-blk-pci,drive=system,serial=system");
        }
        Boot::Tree { .. } => {
            // The tree itself is one of the shares (added by `tree::with_tree_share`).
            if let Some(files) = &prepared.boot_files {
                a.push("-kernel").push(&files.kernel);
                a.push("-initrd").push(&files.initramfs);
                a.push("-append")
                    .push(kernel_command_line(spec, prepared.arch));
            }
        }
        Boot::Disk {
            image, read_only, ..
        } => {
            let format = if is_qcow2(image) { "qcow2" } else { "raw" };
            let ro = if *read_only { ",readonly=on" } else { "" };
            a.push("-drive").push(format!(
                "file={},format={format},if=none,id=system{ro}",
                esc(image)
            ));
            // A disk laid out for 4096-byte sectors only reads right with them.
            let sectors = if format == "raw" && has_4096_byte_sectors(image) {
                ",logical_block_size=4096,physical_block_size=4096"
            } else {
                ""
            };
            a.push("-device").push(format!(
                "virtio-blk-pci,drive=system,serial=system,bootindex=0{sectors}"
            ));
        }
        Boot::Iso { image, .. } => {
            a.push("-device").push("virtio-scsi-pci,id=scsi");
            a.push("-drive").push(format!(
                "file={},format=raw,if=none,media=cdrom,readonly=on,id=cdrom",
                esc(image)
            ));
            a.push("-device").push("scsi-cd,drive=cdrom,bootindex=0");
        }
    }

    match &prepared.firmware {
        Some(Firmware::Uefi { code, .. }) => {
            a.push("-drive").push(format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={}",
                esc(code)
            ));
            if let Some(vars) = &prepared.uefi_vars {
                a.push("-drive")
                    .push(format!("if=pflash,format=raw,unit=1,file={}", esc(vars)));
            }
        }
        Some(Firmware::Bios { image }) => {
            a.push("-bios").push(image);
        }
        None => {}
    }

    if let DataDisk::File { path, .. } = &spec.data {
        a.push("-drive")
            .push(format!("file={},format=raw,if=none,id=data", esc(path)));
        a.push("-device")
            .push("virtio-blk-pci,drive=data,serial=data");
    }

    if let Some(ini) = &spec.system_ini {
        a.push("-fw_cfg")
            .push(format!("name=opt/genpack/system.ini,file={}", esc(ini)));
    }
    for (key, value) in &spec.fw_cfg_strings {
        a.push("-fw_cfg").push(format!(
            "name=opt/{},string={}",
            key.replace(',', ",,"),
            value.replace(',', ",,")
        ));
    }

    let nic = |a: &mut Args| {
        a.push("-device").push(format!(
            "virtio-net-pci,netdev=net0,mac={},romfile=",
            mac_address(&spec.name)
        ));
    };
    match &spec.network {
        Network::None => {}
        Network::User { forwards } => {
            let mut netdev = String::from("user,id=net0");
            for f in forwards {
                netdev.push_str(",hostfwd=");
                netdev.push_str(&f.to_qemu());
            }
            a.push("-netdev").push(netdev);
            nic(&mut a);
        }
        Network::Bridge { bridge } => {
            a.push("-netdev").push(format!(
                "bridge,id=net0,br={},helper=/usr/lib/qemu/qemu-bridge-helper",
                bridge.replace(',', ",,")
            ));
            nic(&mut a);
        }
        Network::Tap { ifname } => {
            a.push("-netdev").push(format!(
                "tap,id=net0,ifname={},script=no,downscript=no,vhost=on",
                ifname.replace(',', ",,")
            ));
            nic(&mut a);
        }
    }

    let mut virtiofs = prepared.virtiofs_sockets.iter();
    for (i, share) in spec.shares.iter().enumerate() {
        match share {
            Share::Virtiofs { tag, .. } => {
                if let Some(socket) = virtiofs.next() {
                    a.push("-chardev")
                        .push(format!("socket,id=fs{i},path={}", esc(socket)));
                    a.push("-device").push(format!(
                        "vhost-user-fs-pci,queue-size=1024,chardev=fs{i},tag={}",
                        tag.replace(',', ",,")
                    ));
                }
            }
            Share::NineP {
                path,
                tag,
                read_only,
            } => {
                let ro = if *read_only { ",readonly=on" } else { "" };
                a.push("-virtfs").push(format!(
                    "local,path={},mount_tag={},security_model=mapped-xattr,id=p9_{i}{ro}",
                    esc(path),
                    tag.replace(',', ",,")
                ));
            }
        }
    }

    if let Some(cid) = prepared.vsock_cid {
        a.push("-device")
            .push(format!("vhost-vsock-pci,guest-cid={cid}"));
    }

    let screen_needs_usb = spec.display == Display::Vnc && prepared.input.need_usb();
    if screen_needs_usb || !spec.usb_devices.is_empty() {
        a.push("-device").push("qemu-xhci,id=xhci");
    }
    match spec.display {
        Display::None => {
            a.push("-display").push("none");
        }
        Display::Vnc => {
            let gpu = match prepared.arch {
                Arch::X86_64 => "virtio-vga",
                Arch::Aarch64 => "virtio-gpu-pci",
            };
            a.push("-device").push(gpu);
            for device in prepared.input.qemu_devices() {
                a.push("-device").push(device);
            }
            if prepared.clipboard {
                // The channel spice-vdagent in the guest talks to; QEMU's VNC server passes
                // the viewer's clipboard to it.
                a.push("-device")
                    .push("virtio-serial-pci,id=vdagent-serial");
                a.push("-chardev")
                    .push("qemu-vdagent,id=vdagent,name=vdagent,clipboard=on,mouse=off");
                a.push("-device").push(
                    "virtserialport,bus=vdagent-serial.0,chardev=vdagent,name=com.redhat.spice.0",
                );
            }
            a.push("-display").push("none");
            a.push("-vnc")
                .push(format!("unix:{}", esc(&runtime.vnc_socket())));
        }
    }
    for dev in &spec.usb_devices {
        a.push("-device")
            .push(format!("usb-host,bus=xhci.0,hostdevice={}", esc(dev)));
    }
    a.0
}

fn is_qcow2(image: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(image)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"QFI\xfb"
}

/// Whether a raw disk image was laid out for 4096-byte logical sectors: its GPT header is in
/// the second 4 KiB instead of the second 512 bytes, or (no partition table) its FAT boot
/// sector counts 4096-byte sectors.
fn has_4096_byte_sectors(image: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(file) = std::fs::File::open(image) else {
        return false;
    };
    let mut head = [0u8; 4104];
    if file.read_exact_at(&mut head, 0).is_err() {
        return false;
    }
    let gpt_at = |offset: usize| &head[offset..offset + 8] == b"EFI PART";
    if gpt_at(512) {
        return false;
    }
    if gpt_at(4096) {
        return true;
    }
    let fat_sector_size = u16::from_le_bytes([head[11], head[12]]);
    head[510..512] == [0x55, 0xaa] && (&head[82..87] == b"FAT32") && fat_sector_size == 4096
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push(&mut self, arg: impl Into<OsString>) -> &mut Self {
        self.0.push(arg.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Forward;

    fn prepared(rt: &RuntimeDir) -> Prepared {
        Prepared {
            arch: Arch::X86_64,
            accel: Accel::Tcg,
            boot_files: Some(BootFiles {
                kernel: rt.path().join("kernel"),
                initramfs: rt.path().join("initramfs"),
                arch: Arch::X86_64,
            }),
            firmware: None,
            uefi_vars: None,
            vsock_cid: None,
            virtiofs_sockets: vec![],
            input: InputDevices::for_kernel(
                &genpack_image::KernelDrivers::from_names(["i8042", "atkbd", "virtio_input"]),
                Arch::X86_64,
            ),
            clipboard: false,
        }
    }

    fn joined(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn squashfs_boot_is_direct_kernel_with_read_only_system_disk() {
        let rt = RuntimeDir::under(Path::new("/run/x"), "web").unwrap();
        let mut spec = VmSpec::new(
            "web",
            Boot::Squashfs {
                image: "/img/web,1.squashfs".into(),
            },
        );
        spec.network = Network::User {
            forwards: vec!["2222:22".parse::<Forward>().unwrap()],
        };
        spec.system_ini = Some("/cfg/system.ini".into());
        spec.append = Some("quiet".into());
        let line = joined(&qemu_args(&spec, &prepared(&rt), &rt));
        assert!(line.contains("-kernel /run/x/web/kernel -initrd /run/x/web/initramfs"));
        assert!(line.contains(
            "-append root=block: ro console=tty0 console=ttyS0,115200 genpack.transient=1 quiet"
        ));
        assert!(line.contains("file=/img/web,,1.squashfs,format=raw,if=none,readonly=on,id=system"));
        assert!(line.contains("-fw_cfg name=opt/genpack/system.ini,file=/cfg/system.ini"));
        assert!(line.contains("hostfwd=tcp:127.0.0.1:2222-:22"));
        assert!(line.contains("-accel tcg,thread=multi -cpu max,family=15"));
        assert!(line.contains("-vnc unix:/run/x/web/vnc.sock"));
        assert!(!line.contains("id=data"));
        // Keys go to a keyboard the guest kernel drives (here the machine's PS/2 one); no USB
        // keyboard takes them first.
        assert!(line.contains("-device virtio-vga -device virtio-tablet-pci -display none"));
        assert!(!line.contains("usb-kbd") && !line.contains("qemu-xhci"));
        assert!(
            !line.contains("qemu-vdagent"),
            "no clipboard channel without spice-vdagent"
        );

        let mut with_agent = prepared(&rt);
        with_agent.clipboard = true;
        let line = joined(&qemu_args(&spec, &with_agent, &rt));
        assert!(
            line.contains("-chardev qemu-vdagent,id=vdagent,name=vdagent,clipboard=on,mouse=off")
        );
        assert!(line.contains(
            "virtserialport,bus=vdagent-serial.0,chardev=vdagent,name=com.redhat.spice.0"
        ));
    }

    #[test]
    fn data_file_replaces_transient_mode() {
        let rt = RuntimeDir::under(Path::new("/run/x"), "db").unwrap();
        let mut spec = VmSpec::new(
            "db",
            Boot::Squashfs {
                image: "/img/db.squashfs".into(),
            },
        );
        spec.data = DataDisk::File {
            path: "/vm/db/data".into(),
            size_bytes: 1 << 30,
        };
        spec.display = Display::None;
        let line = joined(&qemu_args(&spec, &prepared(&rt), &rt));
        assert!(!line.contains("genpack.transient"));
        assert!(line.contains("file=/vm/db/data,format=raw,if=none,id=data"));
        assert!(line.contains("-append root=block: ro console=ttyS0,115200 "));
        assert!(line.contains("-display none"));
        assert!(!line.contains("-vnc"));
    }

    #[test]
    fn uefi_disk_boot_uses_the_vm_copy_of_the_variable_store() {
        let rt = RuntimeDir::under(Path::new("/run/x"), "d").unwrap();
        let spec = VmSpec::new(
            "d",
            Boot::Disk {
                image: "/img/disk.img".into(),
                firmware: crate::FirmwareKind::Uefi,
                read_only: false,
            },
        );
        let mut p = prepared(&rt);
        p.boot_files = None;
        p.firmware = Some(Firmware::Uefi {
            code: "/usr/share/OVMF/OVMF_CODE.fd".into(),
            vars_template: "/usr/share/OVMF/OVMF_VARS.fd".into(),
        });
        p.uefi_vars = Some(rt.path().join("OVMF_VARS.fd"));
        let line = joined(&qemu_args(&spec, &p, &rt));
        assert!(!line.contains("-kernel"));
        assert!(line.contains("unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd"));
        assert!(line.contains("unit=1,file=/run/x/d/OVMF_VARS.fd"));
        assert!(line.contains("bootindex=0"));
    }

    #[test]
    fn disks_laid_out_for_4096_byte_sectors_are_attached_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, offset: usize, bytes: &[u8]| {
            let mut disk = vec![0u8; 1 << 20];
            disk[offset..offset + bytes.len()].copy_from_slice(bytes);
            let path = dir.path().join(name);
            std::fs::write(&path, disk).unwrap();
            path
        };
        assert!(has_4096_byte_sectors(&write(
            "gpt4k.img",
            4096,
            b"EFI PART"
        )));
        assert!(!has_4096_byte_sectors(&write(
            "gpt512.img",
            512,
            b"EFI PART"
        )));
        assert!(!has_4096_byte_sectors(&write("blank.img", 0, b"")));
        let mut fat = [0u8; 512];
        fat[11..13].copy_from_slice(&4096u16.to_le_bytes());
        fat[82..87].copy_from_slice(b"FAT32");
        fat[510..512].copy_from_slice(&[0x55, 0xaa]);
        assert!(has_4096_byte_sectors(&write("floppy4k.img", 0, &fat)));
        assert!(!has_4096_byte_sectors(&dir.path().join("missing.img")));

        let rt = RuntimeDir::under(Path::new("/run/x"), "k").unwrap();
        let spec = VmSpec::new(
            "k",
            Boot::Disk {
                image: dir.path().join("gpt4k.img"),
                firmware: crate::FirmwareKind::Uefi,
                read_only: false,
            },
        );
        let mut p = prepared(&rt);
        p.boot_files = None;
        let line = joined(&qemu_args(&spec, &p, &rt));
        assert!(line.contains("bootindex=0,logical_block_size=4096,physical_block_size=4096"));
    }

    #[test]
    fn mac_address_is_stable_and_locally_administered_qemu_range() {
        assert_eq!(mac_address("a"), mac_address("a"));
        assert_ne!(mac_address("a"), mac_address("b"));
        assert!(mac_address("a").starts_with("52:54:00:"));
    }
}
