//! Shared test helpers: a tiny bootable genpack image (host kernel, our initramfs and
//! genpack-init in a SquashFS), QEMU boots and command runners.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use genpack_init::initramfs::{build_initramfs, Compression, InitramfsSpec};

/// The line the test image's init prints once it runs with the system.ini applied.
pub const HOSTNAME_LINE: &str = "HOSTNAME-FROM-INI: ";
/// The line the test image's init prints last.
pub const MARKER: &str = "GENPACK-TEST-MARKER";

/// The newest kernel with modules on this machine: (version, vmlinuz).
pub fn host_kernel() -> (String, PathBuf) {
    let mut versions: Vec<String> = fs::read_dir("/lib/modules")
        .expect("kernel modules are needed (apt install linux-image-amd64)")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|v| {
            Path::new("/lib/modules")
                .join(v)
                .join("modules.dep")
                .exists()
        })
        .filter(|v| Path::new(&format!("/boot/vmlinuz-{v}")).exists())
        .collect();
    versions.sort();
    let version = versions
        .pop()
        .expect("a kernel in /boot with modules in /lib/modules");
    let vmlinuz = PathBuf::from(format!("/boot/vmlinuz-{version}"));
    (version, vmlinuz)
}

/// A bootable genpack test image, built once per test binary: `/boot/kernel` (the host's),
/// `/boot/initramfs` (ours), `/usr/bin/genpack-init`, and an `/sbin/init` that prints the
/// hostname system.ini set, the mounts under /run/initramfs and a marker, then powers off.
pub fn test_image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_stale_images(base);
        let dir = base.join(format!("install-test-image.{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let cache = std::env::var_os(genpack_init::binaries::CACHE_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot-binaries"));
        let bins = genpack_init::boot_binaries_in(&cache, genpack_init::Profile::Dev).unwrap();
        let tree = dir.join("tree");
        make_root_tree(&tree, &bins.genpack_init);
        let (version, vmlinuz) = host_kernel();
        fs::copy(&vmlinuz, tree.join("boot/kernel")).unwrap();
        let spec = InitramfsSpec::new(bins.initramfs_init.clone(), "/".into(), version);
        build_initramfs(&spec, &tree.join("boot/initramfs"), Compression::Zstd).unwrap();
        let image = dir.join("test.squashfs");
        squashfs(&tree, &image);
        fs::remove_dir_all(&tree).unwrap();
        image
    })
}

/// Removes test images of test runs that have ended.
fn remove_stale_images(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix("install-test-image.") else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn make_root_tree(root: &Path, genpack_init: &Path) {
    for dir in [
        "bin", "sbin", "usr/bin", "etc", "proc", "sys", "dev", "run", "tmp", "var/log", "root",
        "boot", ".genpack",
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::write(root.join(".genpack/artifact"), "install-test\n").unwrap();
    fs::write(root.join(".genpack/arch"), "x86_64\n").unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("busybox-static is needed (apt install busybox-static)");
    for applet in ["sh", "cat", "echo", "poweroff", "ls", "sleep", "grep", "wc"] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    fs::copy(genpack_init, root.join("usr/bin/genpack-init")).unwrap();
    let init = root.join("sbin/init");
    fs::write(
        &init,
        format!(
            "#!/bin/sh\n\
             echo \"{HOSTNAME_LINE}$(cat /etc/hostname)\"\n\
             grep initramfs /proc/mounts\n\
             echo {MARKER}\n\
             poweroff -f\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
}

/// Firmware of a QEMU boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// SeaBIOS (QEMU's default).
    Bios,
    /// OVMF.
    Uefi,
    /// OVMF built for 32-bit x86 (package ovmf-ia32) on a 64-bit CPU, as on tablets and
    /// early Intel Macs: it runs only `BOOTIA32.EFI`.
    Uefi32,
}

/// How the medium is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    /// A virtio disk.
    Disk,
    /// An IDE disk (what a BIOS sees as a USB stick or hard disk without virtio drivers).
    IdeDisk,
    /// A CD-ROM drive on the machine's SATA (AHCI) controller, as PCs, virt-manager and GNOME
    /// Boxes attach it (`if=ide` on q35 is the ICH9 AHCI controller).
    Cdrom,
    /// A CD-ROM drive on USB (usb-storage on an xHCI controller).
    UsbCdrom,
    /// A virtio disk with 4096-byte logical and physical blocks (what a "4Kn" NVMe drive or
    /// USB disk looks like).
    Disk4Kn,
    /// A USB mass-storage device on an xHCI controller: a USB stick.
    UsbStick,
}

/// Boots `medium` in QEMU (TCG) and returns (powered off by itself, serial log).
pub fn boot(dir: &Path, file: &Path, medium: Medium, firmware: Firmware) -> (bool, String) {
    let serial = dir.join("serial.log");
    let mut command = Command::new("qemu-system-x86_64");
    // The 32-bit OVMF is built with SMM, which needs the flash locked to it.
    let machine = match firmware {
        Firmware::Uefi32 => "q35,smm=on",
        _ => "q35",
    };
    command
        .args([
            "-machine",
            machine,
            "-m",
            "512",
            "-display",
            "none",
            "-monitor",
            "none",
            "-nodefaults",
        ])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()));
    if firmware == Firmware::Bios {
        // OVMF resets the machine once while it sets up fresh variables; SeaBIOS does not.
        command.arg("-no-reboot");
    }
    if firmware == Firmware::Uefi {
        let vars = dir.join("OVMF_VARS.fd");
        fs::copy("/usr/share/OVMF/OVMF_VARS.fd", &vars).expect("ovmf is needed (apt install ovmf)");
        command
            .arg("-drive")
            .arg("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd")
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", vars.display()));
    }
    if firmware == Firmware::Uefi32 {
        let vars = dir.join("OVMF32_VARS.fd");
        fs::copy("/usr/share/OVMF/OVMF32_VARS_4M.fd", &vars)
            .expect("32-bit OVMF is needed (apt install ovmf-ia32)");
        command
            .args(["-global", "driver=cfi.pflash01,property=secure,value=on"])
            .arg("-drive")
            .arg(
                "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd",
            )
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,unit=1,file={}", vars.display()));
    }
    let drive = match medium {
        Medium::Disk => format!("file={},format=raw,if=virtio", file.display()),
        Medium::IdeDisk => format!("file={},format=raw,if=ide,media=disk", file.display()),
        Medium::Cdrom => format!("file={},format=raw,if=ide,media=cdrom", file.display()),
        Medium::Disk4Kn => format!("file={},format=raw,if=none,id=disk4k", file.display()),
        Medium::UsbStick => format!("file={},format=raw,if=none,id=stick", file.display()),
        Medium::UsbCdrom => format!(
            "file={},format=raw,if=none,id=stick,media=cdrom,readonly=on",
            file.display()
        ),
    };
    command.arg("-drive").arg(drive);
    if matches!(medium, Medium::UsbStick | Medium::UsbCdrom) {
        command
            .args(["-device", "qemu-xhci,id=xhci"])
            .args(["-device", "usb-storage,bus=xhci.0,drive=stick,bootindex=0"]);
    }
    if medium == Medium::Disk4Kn {
        command
            .arg("-device")
            .arg("virtio-blk-pci,drive=disk4k,logical_block_size=4096,physical_block_size=4096");
    }
    let mut qemu = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join("qemu.stderr")).unwrap())
        .spawn()
        .expect("qemu-system-x86_64 is needed");
    // A generous wall-clock limit for slow software emulation; not a speed assertion.
    let deadline = Instant::now() + Duration::from_secs(900);
    let finished = loop {
        if let Some(status) = qemu.try_wait().unwrap() {
            let _ = fs::write(dir.join("qemu.status"), format!("QEMU exited: {status}\n"));
            break true;
        }
        let log = read_lossy(&serial);
        if log.contains(MARKER) || Instant::now() > deadline {
            // The marker is the last line; do not wait for the slow power-off.
            std::thread::sleep(Duration::from_millis(500));
            let done = log.contains(MARKER);
            let _ = qemu.kill();
            let _ = qemu.wait();
            break done;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let mut log = read_lossy(&serial);
    let stderr = fs::read_to_string(dir.join("qemu.stderr")).unwrap_or_default()
        + &fs::read_to_string(dir.join("qemu.status")).unwrap_or_default();
    if !stderr.trim().is_empty() {
        log.push_str("\n[qemu stderr]\n");
        log.push_str(&stderr);
    }
    (finished, log)
}

/// A console log; firmware writes bytes that are not UTF-8.
fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

/// Runs `program` and returns its standard output; panics with its error output on failure.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Packs `tree` into the SquashFS image `image`, owned by root, compressed with gzip (GRUB
/// reads gzip, xz and lzo).
pub fn squashfs(tree: &Path, image: &Path) {
    run(
        "mksquashfs",
        &[
            &tree.to_string_lossy(),
            &image.to_string_lossy(),
            "-noappend",
            "-quiet",
            "-no-progress",
            "-all-root",
            "-comp",
            "gzip",
        ],
    );
}

/// Copies `size` bytes at `offset` of `file` to `out`.
pub fn extract(file: &Path, offset: u64, size: u64, out: &Path) {
    use std::os::unix::fs::FileExt;
    let input = fs::File::open(file).unwrap();
    let output = fs::File::create(out).unwrap();
    let mut buf = vec![0u8; 4 << 20];
    let mut done = 0;
    while done < size {
        let n = (size - done).min(buf.len() as u64) as usize;
        input.read_exact_at(&mut buf[..n], offset + done).unwrap();
        if buf[..n].iter().any(|b| *b != 0) {
            output.write_all_at(&buf[..n], done).unwrap();
        }
        done += n as u64;
    }
    output.set_len(size).unwrap();
}

/// `blkid -p -O offset file` as key/value pairs.
pub fn blkid_at(file: &Path, offset: u64) -> std::collections::HashMap<String, String> {
    let out = run(
        "blkid",
        &[
            "-p",
            "-o",
            "export",
            "-O",
            &offset.to_string(),
            &file.to_string_lossy(),
        ],
    );
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
