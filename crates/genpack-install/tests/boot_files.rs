//! Which boot files land on the boot partition for images of each kind: UEFI loaders the
//! image carries in /usr/lib/genpack-install (used before the host's GRUB), images for other
//! architectures (their own loader, no BIOS boot), and Raspberry Pi images (the firmware's
//! files at the root, cmdline.txt pointing at the system image). The partition is read back
//! with mtools, independently of the installer's own FAT code.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{extract, run, squashfs};
use genpack_install::update::{self_update, UpdateOptions};
use genpack_install::{
    install_to_disk_image, make_zip, BootPartition, EfiPlatform, InstallOptions, InstallReport,
    Layout, LoaderOrigin, ZipOptions,
};

/// A small genpack image for `arch` holding `files` (paths without the leading `/`). Its
/// kernel and initramfs are placeholders: these tests look at files, they do not boot.
fn image(dir: &Path, name: &str, arch: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let tree = dir.join(format!("{name}.tree"));
    fs::create_dir_all(tree.join(".genpack")).unwrap();
    fs::write(tree.join(".genpack/artifact"), format!("{name}\n")).unwrap();
    fs::write(tree.join(".genpack/arch"), format!("{arch}\n")).unwrap();
    for (path, bytes) in files {
        let path = tree.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    let out = dir.join(format!("{name}.squashfs"));
    squashfs(&tree, &out);
    out
}

const KERNEL: (&str, &[u8]) = ("boot/kernel", b"placeholder kernel");
const INITRAMFS: (&str, &[u8]) = ("boot/initramfs", b"placeholder initramfs");

fn install(image: &Path, disk: &Path) -> InstallReport {
    install_to_disk_image(
        image,
        disk,
        &InstallOptions {
            layout: Layout::Mbr,
            ..Default::default()
        },
    )
    .unwrap()
}

/// The boot partition of `disk`, extracted to a file mtools can read.
fn boot_partition(disk: &Path, report: &InstallReport) -> PathBuf {
    let part = disk.with_extension("boot");
    extract(disk, report.partition_offset, report.partition_size, &part);
    let fsck = run("fsck.vfat", &["-n", &part.to_string_lossy()]);
    assert!(!fsck.contains("differ"), "{fsck}");
    part
}

/// A file on a FAT file system, read with mtools; `None` when it is absent.
fn fat_file(part: &Path, path: &str) -> Option<Vec<u8>> {
    let out = part.with_extension("out");
    let _ = fs::remove_file(&out);
    let status = std::process::Command::new("mcopy")
        .args(["-n", "-i"])
        .arg(part)
        .arg(format!("::/{path}"))
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("mcopy is needed (apt install mtools)");
    status.success().then(|| fs::read(&out).unwrap())
}

#[test]
fn loaders_carried_by_the_image_are_installed_before_the_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let carried = b"MZ: the image's own GRUB for x86_64 UEFI".to_vec();
    let image = image(
        dir.path(),
        "carrier",
        "x86_64",
        &[
            KERNEL,
            INITRAMFS,
            ("usr/lib/genpack-install/bootx64.efi", &carried),
        ],
    );
    let disk = dir.path().join("disk.img");
    let report = install(&image, &disk);
    // x86_64 images also get the 32-bit UEFI loader, made here (grub-efi-ia32-bin).
    assert_eq!(
        report.efi_loaders,
        vec![
            (EfiPlatform::X86_64, LoaderOrigin::Image),
            (EfiPlatform::Ia32, LoaderOrigin::Host)
        ]
    );
    assert!(report.bios_boot);
    let part = boot_partition(&disk, &report);
    assert_eq!(fat_file(&part, "EFI/BOOT/BOOTX64.EFI"), Some(carried));
    let ia32 = fat_file(&part, "EFI/BOOT/BOOTIA32.EFI").expect("BOOTIA32.EFI");
    assert_eq!(&ia32[..2], b"MZ");
    // PE machine type 0x014c: i386.
    let pe = u32::from_le_bytes(ia32[0x3c..0x40].try_into().unwrap()) as usize;
    assert_eq!(&ia32[pe + 4..pe + 6], &[0x4c, 0x01]);
}

#[test]
fn aarch64_image_gets_its_own_loader_and_no_bios_boot() {
    let dir = tempfile::tempdir().unwrap();
    let loader = b"MZ: GRUB for arm64 UEFI".to_vec();
    let image = image(
        dir.path(),
        "arm-appliance",
        "aarch64",
        &[
            KERNEL,
            INITRAMFS,
            ("usr/lib/genpack-install/bootaa64.efi", &loader),
            // A loader for another architecture is not installed.
            ("usr/lib/genpack-install/bootx64.efi", b"MZ: x86_64"),
        ],
    );
    let disk = dir.path().join("disk.img");
    let report = install(&image, &disk);
    assert_eq!(
        report.efi_loaders,
        vec![(EfiPlatform::Aarch64, LoaderOrigin::Image)]
    );
    assert!(!report.bios_boot);
    let bytes = fs::read(&disk).unwrap();
    assert!(
        bytes[..440].iter().all(|b| *b == 0),
        "no BIOS boot code belongs on an arm64 disk"
    );
    let part = boot_partition(&disk, &report);
    assert_eq!(fat_file(&part, "EFI/BOOT/BOOTAA64.EFI"), Some(loader));
    assert_eq!(fat_file(&part, "EFI/BOOT/BOOTX64.EFI"), None);
    assert!(fat_file(&part, "EFI/BOOT/grub.cfg").is_some());
}

#[test]
fn riscv64_image_without_a_loader_is_refused_with_the_package_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path(), "rv", "riscv64", &[KERNEL, INITRAMFS]);
    let disk = dir.path().join("disk.img");
    let result = install_to_disk_image(&image, &disk, &InstallOptions::default());
    if EfiPlatform::Riscv64.host_modules_dir().is_dir() {
        let report = result.unwrap();
        assert_eq!(
            report.efi_loaders,
            vec![(EfiPlatform::Riscv64, LoaderOrigin::Host)]
        );
        return;
    }
    let message = result.unwrap_err().to_string();
    assert!(message.contains("riscv64"), "{message}");
    assert!(message.contains("grub-efi-riscv64-bin"), "{message}");
    assert!(message.contains("/usr/lib/genpack-install"), "{message}");
    assert!(!disk.exists(), "nothing may be written before the refusal");
}

/// A Raspberry Pi image as raspberrypi-image lays out /boot.
fn pi_image(dir: &Path, name: &str, kernel: &[u8]) -> PathBuf {
    image(
        dir,
        name,
        "aarch64",
        &[
            ("boot/bootcode.bin", b"pi boot rom stage 2"),
            ("boot/start4.elf", b"pi firmware"),
            ("boot/kernel8.img", kernel),
            ("boot/initramfs8", b"pi initramfs"),
            ("boot/bcm2711-rpi-4-b.dtb", b"device tree"),
            ("boot/overlays/disable-bt.dtbo", b"overlay"),
            ("boot/config.txt", b"arm_64bit=1\nauto_initramfs=1\n"),
            (
                "boot/cmdline.txt",
                b"console=serial0,115200 root=/dev/mmcblk0p2 rootfstype=ext4 rootwait\n",
            ),
        ],
    )
}

#[test]
fn raspberry_pi_image_puts_the_firmware_files_at_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let image = pi_image(dir.path(), "pi", b"pi kernel 1");
    let disk = dir.path().join("disk.img");
    let report = install(&image, &disk);
    assert!(!report.bios_boot);
    // The Pi 3's boot ROM wants a FAT32 (LBA) partition, not an EFI system partition.
    let table = run("sfdisk", &["--json", &disk.to_string_lossy()]);
    assert!(table.contains("\"type\": \"c\""), "{table}");
    let part = boot_partition(&disk, &report);
    for (path, bytes) in [
        ("bootcode.bin", &b"pi boot rom stage 2"[..]),
        ("start4.elf", b"pi firmware"),
        ("kernel8.img", b"pi kernel 1"),
        ("initramfs8", b"pi initramfs"),
        ("bcm2711-rpi-4-b.dtb", b"device tree"),
        ("overlays/disable-bt.dtbo", b"overlay"),
        ("config.txt", b"arm_64bit=1\nauto_initramfs=1\n"),
    ] {
        assert_eq!(fat_file(&part, path).as_deref(), Some(bytes), "{path}");
    }
    assert_eq!(
        String::from_utf8(fat_file(&part, "cmdline.txt").unwrap()).unwrap(),
        "root=systemimg:auto console=serial0,115200 rootwait\n"
    );
    assert_eq!(
        fat_file(&part, "system.img").map(|b| b.len() as u64),
        Some(fs::metadata(&image).unwrap().len())
    );
    // `genpack ini` and the studio find the boot partition of a Pi stick too.
    let stick = BootPartition::open_read_only(&disk).unwrap();
    assert_eq!(stick.volume_id(), report.volume_id);
    assert!(stick.exists("bootcode.bin"));
}

#[test]
fn raspberry_pi_zip_carries_the_boot_files() {
    let dir = tempfile::tempdir().unwrap();
    let image = pi_image(dir.path(), "pi", b"pi kernel 1");
    let zip = dir.path().join("pi.zip");
    let report = make_zip(&image, &zip, &ZipOptions::default()).unwrap();
    for name in [
        "system.img",
        "bootcode.bin",
        "kernel8.img",
        "overlays/disable-bt.dtbo",
        "config.txt",
        "cmdline.txt",
    ] {
        assert!(
            report.entries.iter().any(|e| e == name),
            "{name} missing: {:?}",
            report.entries
        );
    }
    let listing = run("unzip", &["-p", &zip.to_string_lossy(), "cmdline.txt"]);
    assert_eq!(
        listing,
        "root=systemimg:auto console=serial0,115200 rootwait\n"
    );
}

#[test]
fn raspberry_pi_update_refreshes_firmware_but_keeps_the_users_settings() {
    let dir = tempfile::tempdir().unwrap();
    let old = pi_image(dir.path(), "pi-old", b"pi kernel 1");
    let new = pi_image(dir.path(), "pi-new", b"pi kernel 2");
    // A boot partition as the running system sees it: the old image and its boot files,
    // with settings the user changed.
    let boot = dir.path().join("boot");
    fs::create_dir_all(&boot).unwrap();
    fs::copy(&old, boot.join("system.img")).unwrap();
    fs::write(boot.join("kernel8.img"), "pi kernel 1").unwrap();
    fs::write(
        boot.join("config.txt"),
        "arm_64bit=1\ndtoverlay=disable-bt\n",
    )
    .unwrap();
    fs::write(boot.join("cmdline.txt"), "root=systemimg:auto quiet\n").unwrap();
    let report = self_update(&new, &UpdateOptions::new(&boot), &mut |_| {}).unwrap();
    assert!(
        report.refreshed.iter().any(|f| f == "kernel8.img"),
        "{:?}",
        report.refreshed
    );
    assert_eq!(fs::read(boot.join("kernel8.img")).unwrap(), b"pi kernel 2");
    assert_eq!(
        fs::read(boot.join("overlays/disable-bt.dtbo")).unwrap(),
        b"overlay"
    );
    assert_eq!(
        fs::read_to_string(boot.join("config.txt")).unwrap(),
        "arm_64bit=1\ndtoverlay=disable-bt\n"
    );
    assert_eq!(
        fs::read_to_string(boot.join("cmdline.txt")).unwrap(),
        "root=systemimg:auto quiet\n"
    );
}
