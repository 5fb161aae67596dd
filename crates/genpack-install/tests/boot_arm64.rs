//! Boots a disk written for a 64-bit ARM image in QEMU (TCG) with AAVMF, the UEFI firmware
//! of QEMU's `virt` machine: the firmware starts the image's own `BOOTAA64.EFI`, GRUB finds
//! the boot partition, loop-mounts `system.img` and boots the Debian arm64 kernel inside it,
//! whose initramfs prints a marker line.
//!
//! Needs the arm64 parts fetched by `scripts/fetch-arm64-boot-parts` (into
//! `$GENPACK_ARM64_BOOT_PARTS`, by default `~/.cache/genpack/arm64-boot`), qemu-system-aarch64
//! (package qemu-system-arm), AAVMF (package qemu-efi-aarch64), grub-mkimage, mksquashfs.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::squashfs;
use genpack_install::{install_to_disk_image, EfiPlatform, InstallOptions, Layout, LoaderOrigin};

/// Where `scripts/fetch-arm64-boot-parts` puts the arm64 parts (overrides the default).
const PARTS_ENV: &str = "GENPACK_ARM64_BOOT_PARTS";
/// The line the initramfs's /init writes to the kernel log, followed by `uname -m` and
/// `uname -r`.
const MARKER: &str = "GENPACK-ARM64-INIT:";
/// The line /init prints to its console. The kernel attaches `/dev/console` to the last
/// `console=` argument that exists, so whether this reaches the serial port depends on the
/// console arguments grub.cfg passes.
const CONSOLE_LINE: &str = "GENPACK-ARM64-CONSOLE: init's output reached /dev/console";
const AAVMF_CODE: &str = "/usr/share/AAVMF/AAVMF_CODE.fd";
const AAVMF_VARS: &str = "/usr/share/AAVMF/AAVMF_VARS.fd";

/// What `scripts/fetch-arm64-boot-parts` fetched from Debian.
struct Arm64Parts {
    /// The kernel (vmlinuz of linux-image-<release>).
    kernel: PathBuf,
    /// Its release, e.g. `6.1.0-56-arm64`.
    kernel_release: String,
    /// A static arm64 busybox.
    busybox: PathBuf,
    /// GRUB's arm64-efi modules.
    grub_modules: PathBuf,
}

fn arm64_parts() -> Arm64Parts {
    let dir = std::env::var_os(PARTS_ENV)
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/genpack/arm64-boot"))
        })
        .expect("HOME or GENPACK_ARM64_BOOT_PARTS must be set");
    let packages = fs::read_to_string(dir.join("packages")).unwrap_or_else(|e| {
        panic!(
            "the arm64 boot parts are missing from {} ({e}); fetch them with \
             scripts/fetch-arm64-boot-parts (it reads {PARTS_ENV} too)",
            dir.display()
        )
    });
    let kernel_release = packages
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .find_map(|package| package.strip_prefix("linux-image-"))
        .unwrap_or_else(|| panic!("no kernel package in {}/packages", dir.display()))
        .to_string();
    Arm64Parts {
        kernel: dir.join("kernel"),
        kernel_release,
        busybox: dir.join("busybox"),
        grub_modules: dir.join("grub/arm64-efi"),
    }
}

/// A GRUB arm64 UEFI loader made the way an arm64 image build would make the one it carries:
/// with grub-mkimage, the installer's module list (those GRUB has for arm64) and the prefix
/// the installer puts grub.cfg at.
fn make_grub_loader(modules_dir: &Path, out: &Path) {
    let modules: Vec<&str> = genpack_install::grub::MODULES
        .iter()
        .copied()
        .filter(|m| modules_dir.join(format!("{m}.mod")).is_file())
        .collect();
    assert!(modules.contains(&"squash4") && modules.contains(&"linux"));
    let output = Command::new("grub-mkimage")
        .arg("-d")
        .arg(modules_dir)
        .args([
            "-O",
            "arm64-efi",
            "-p",
            genpack_install::grub::CONFIG_DIR,
            "-o",
        ])
        .arg(out)
        .args(&modules)
        .output()
        .expect("grub-mkimage is needed (apt install grub-common)");
    assert!(
        output.status.success(),
        "grub-mkimage: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One entry of a `newc` cpio archive.
enum CpioEntry<'a> {
    Dir,
    File(&'a [u8]),
    CharDevice(u32, u32),
}

/// A `newc` cpio archive (what the kernel unpacks as an initramfs), every entry owned by root.
fn cpio(entries: &[(&str, CpioEntry)]) -> Vec<u8> {
    fn push(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        let size = u32::try_from(data.len()).unwrap();
        let name_size = u32::try_from(name.len() + 1).unwrap();
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
        // rdevminor, namesize, check
        let fields = [
            ino, mode, 0, 0, 1, 0, size, 0, 0, rdev.0, rdev.1, name_size, 0,
        ];
        out.extend_from_slice(b"070701");
        for field in fields {
            out.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    let mut out = Vec::new();
    for (ino, (name, entry)) in (1..).zip(entries) {
        match entry {
            CpioEntry::Dir => push(&mut out, ino, name, 0o040755, (0, 0), &[]),
            CpioEntry::File(data) => push(&mut out, ino, name, 0o100755, (0, 0), data),
            CpioEntry::CharDevice(major, minor) => {
                push(&mut out, ino, name, 0o020600, (*major, *minor), &[])
            }
        }
    }
    push(&mut out, 0, "TRAILER!!!", 0, (0, 0), &[]);
    out
}

/// An initramfs whose /init (busybox sh) logs the marker with the machine and kernel it runs
/// on to the kernel log (shown on every kernel console), prints [`CONSOLE_LINE`] to its
/// standard output (`/dev/console`), then powers off.
fn initramfs(busybox: &[u8]) -> Vec<u8> {
    let init = format!(
        "#!/bin/busybox sh\n\
         echo \"{MARKER} $(/bin/busybox uname -m) $(/bin/busybox uname -r)\" > /dev/kmsg\n\
         echo \"{CONSOLE_LINE}\"\n\
         /bin/busybox poweroff -f\n"
    );
    cpio(&[
        ("bin", CpioEntry::Dir),
        ("bin/busybox", CpioEntry::File(busybox)),
        ("dev", CpioEntry::Dir),
        ("dev/console", CpioEntry::CharDevice(5, 1)),
        ("dev/kmsg", CpioEntry::CharDevice(1, 11)),
        ("init", CpioEntry::File(init.as_bytes())),
    ])
}

/// A genpack image for aarch64 (SquashFS, gzip) carrying its own `bootaa64.efi`.
fn arm64_image(dir: &Path, parts: &Arm64Parts) -> PathBuf {
    let tree = dir.join("tree");
    for sub in [".genpack", "boot", "usr/lib/genpack-install"] {
        fs::create_dir_all(tree.join(sub)).unwrap();
    }
    fs::write(tree.join(".genpack/artifact"), "arm64-boot-test\n").unwrap();
    fs::write(tree.join(".genpack/arch"), "aarch64\n").unwrap();
    fs::copy(&parts.kernel, tree.join("boot/kernel")).unwrap();
    let busybox = fs::read(&parts.busybox).unwrap();
    fs::write(tree.join("boot/initramfs"), initramfs(&busybox)).unwrap();
    make_grub_loader(
        &parts.grub_modules,
        &tree.join("usr/lib/genpack-install/bootaa64.efi"),
    );
    let image = dir.join("arm64.squashfs");
    squashfs(&tree, &image);
    fs::remove_dir_all(&tree).unwrap();
    image
}

/// Kills QEMU when the test ends, also when it fails.
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Boots `disk` on QEMU's `virt` machine with AAVMF and returns the serial log once the
/// marker appeared, QEMU ended or a generous wall-clock limit passed.
fn boot_aavmf(dir: &Path, disk: &Path) -> String {
    let serial = dir.join("serial.log");
    let vars = dir.join("AAVMF_VARS.fd");
    fs::copy(AAVMF_VARS, &vars).expect("AAVMF is needed (apt install qemu-efi-aarch64)");
    let stderr = dir.join("qemu.stderr");
    let child = Command::new("qemu-system-aarch64")
        .args([
            "-machine",
            "virt",
            "-cpu",
            "max,pauth-impdef=on",
            "-m",
            "1024",
        ])
        .args(["-display", "none", "-monitor", "none", "-nodefaults"])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .arg("-drive")
        .arg(format!(
            "if=pflash,format=raw,readonly=on,file={AAVMF_CODE}"
        ))
        .arg("-drive")
        .arg(format!("if=pflash,format=raw,file={}", vars.display()))
        .arg("-drive")
        .arg(format!(
            "if=none,id=disk,format=raw,file={}",
            disk.display()
        ))
        .args(["-device", "virtio-blk-pci,drive=disk"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr).unwrap())
        .spawn()
        .expect(
            "qemu-system-aarch64 is needed (apt install -t bookworm-backports qemu-system-arm)",
        );
    let mut qemu = Qemu(child);
    // A generous wall-clock limit for slow software emulation; not a speed assertion.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut exit = None;
    loop {
        if let Some(status) = qemu.0.try_wait().unwrap() {
            exit = Some(status);
            break;
        }
        let log = read_lossy(&serial);
        // A panicking kernel reboots after a while (panic=30) and would boot again.
        if log.contains(MARKER) || log.contains("Kernel panic") || Instant::now() > deadline {
            // /init prints its console line after the marker; let it through.
            std::thread::sleep(Duration::from_secs(1));
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(qemu);
    let mut log = read_lossy(&serial);
    let qemu_stderr = fs::read_to_string(&stderr).unwrap_or_default();
    if !qemu_stderr.trim().is_empty() {
        log.push_str("\n[qemu stderr]\n");
        log.push_str(&qemu_stderr);
    }
    if let Some(status) = exit {
        log.push_str(&format!("\n[QEMU exited: {status}]\n"));
    }
    log
}

/// A console log; firmware writes bytes that are not UTF-8.
fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

#[test]
fn aarch64_disk_boots_the_kernel_from_the_image_with_aavmf_qemu() {
    let parts = arm64_parts();
    let dir = tempfile::tempdir().unwrap();
    let image = arm64_image(dir.path(), &parts);
    let ini = dir.path().join("system.ini");
    fs::write(&ini, "hostname = arm64-board\n").unwrap();
    let disk = dir.path().join("disk.img");
    let report = install_to_disk_image(
        &image,
        &disk,
        &InstallOptions {
            system_ini: Some(ini),
            layout: Layout::Gpt,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        report.efi_loaders,
        vec![(EfiPlatform::Aarch64, LoaderOrigin::Image)],
        "an aarch64 image gets its own BOOTAA64.EFI and nothing else"
    );
    assert!(!report.bios_boot, "no BIOS loader for an ARM image");
    fs::remove_file(&image).unwrap();

    let log = boot_aavmf(dir.path(), &disk);
    assert!(
        log.contains("Booting Linux on physical CPU")
            && log.contains(&format!("Linux version {}", parts.kernel_release)),
        "the kernel from the image did not start; serial log:\n{log}"
    );
    let root_arg = format!("root=systemimg:{}", report.volume_id);
    let command_line = log
        .lines()
        .find(|line| line.contains("Kernel command line:"))
        .unwrap_or_else(|| panic!("the kernel printed no command line; serial log:\n{log}"));
    assert!(
        command_line.contains(&root_arg),
        "the kernel command line lacks {root_arg}; serial log:\n{log}"
    );
    assert!(
        log.contains(&format!("{MARKER} aarch64 {}", parts.kernel_release)),
        "the initramfs's /init did not run on the arm64 kernel; serial log:\n{log}"
    );
    assert!(
        !command_line.contains("console=ttyS0"),
        "ttyS0 does not exist on arm64; serial log:\n{log}"
    );
    assert!(
        log.contains(CONSOLE_LINE),
        "init's console is not the serial port; serial log:\n{log}"
    );
}
