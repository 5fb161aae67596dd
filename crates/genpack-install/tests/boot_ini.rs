//! system.ini edited in place on the FAT boot partition of disk images and block devices.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, squashfs};
use genpack_install::boot_ini::{
    read_system_ini, read_system_ini_text, replace_system_ini, set_system_ini_value,
    SYSTEM_INI_BACKUP,
};
use genpack_install::layout::{Layout, PartitionTable};
use genpack_install::{install_to_disk_image, BootPartition, InstallOptions};

const INI: &str = "# Settings of the kiosk stick\nhostname = kiosk\n; keep this one\ntimezone = Europe/Berlin\n\n[wg-walbrix]\n# the tunnel\naddress = 10.0.0.2\n";

/// A minimal genpack image: metadata, a kernel and an initramfs (not bootable).
fn fake_image(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join(".genpack")).unwrap();
    fs::create_dir_all(tree.join("boot")).unwrap();
    fs::write(tree.join(".genpack/artifact"), "kiosk\n").unwrap();
    fs::write(tree.join("boot/kernel"), "kernel").unwrap();
    fs::write(tree.join("boot/initramfs"), "initramfs").unwrap();
    let image = dir.join("kiosk.squashfs");
    squashfs(&tree, &image);
    image
}

/// A GPT disk image made by `install_to_disk_image`, with [`INI`] as system.ini.
fn gpt_disk(dir: &Path) -> PathBuf {
    let image = fake_image(dir);
    let ini = dir.join("system.ini");
    fs::write(&ini, INI).unwrap();
    let disk = dir.join("disk.img");
    install_to_disk_image(
        &image,
        &disk,
        &InstallOptions {
            system_ini: Some(ini),
            layout: Layout::Gpt,
            ..Default::default()
        },
    )
    .unwrap();
    disk
}

/// fsck.fat -n on the boot file system of `disk` (copied out at its offset).
fn assert_fsck_clean(disk: &Path) {
    let location = BootPartition::open(disk).unwrap().location();
    let bytes = fs::read(disk).unwrap();
    let part = disk.with_extension("part");
    fs::write(
        &part,
        &bytes[location.offset as usize..(location.offset + location.size) as usize],
    )
    .unwrap();
    let out = Command::new("fsck.vfat")
        .arg("-n")
        .arg(&part)
        .output()
        .expect("fsck.vfat is needed (apt install dosfstools)");
    assert!(
        out.status.success(),
        "fsck.vfat -n reports problems:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    fs::remove_file(part).unwrap();
}

/// Changes the hostname and checks what a user would: the new value, comments kept, the
/// backup holding the old text, a clean file system.
fn edit_and_check(disk: &Path, check_on: &Path) {
    let write = set_system_ini_value(disk, "_default", "hostname", "lobby").unwrap();
    assert!(write.changed && write.backed_up);
    let text = read_system_ini_text(check_on).unwrap().unwrap();
    assert_eq!(text, INI.replace("hostname = kiosk", "hostname = lobby"));
    let partition = BootPartition::open(check_on).unwrap();
    let backup = partition.read(SYSTEM_INI_BACKUP).unwrap().unwrap();
    partition.close().unwrap();
    assert_eq!(String::from_utf8(backup).unwrap(), INI);
    assert_fsck_clean(check_on);
}

#[test]
fn system_ini_is_edited_in_place_on_a_gpt_disk_image() {
    let dir = tempfile::tempdir().unwrap();
    let disk = gpt_disk(dir.path());
    assert_eq!(
        BootPartition::open(&disk).unwrap().location().table,
        Some(PartitionTable::Gpt)
    );
    let doc = read_system_ini(&disk).unwrap();
    assert_eq!(
        doc.get("wg-walbrix", "address").as_deref(),
        Some("10.0.0.2")
    );
    edit_and_check(&disk, &disk);

    // A second edit keeps only the latest previous text as backup.
    set_system_ini_value(&disk, "wg-walbrix", "address", "10.0.0.3").unwrap();
    let partition = BootPartition::open(&disk).unwrap();
    let backup = String::from_utf8(partition.read(SYSTEM_INI_BACKUP).unwrap().unwrap()).unwrap();
    partition.close().unwrap();
    assert!(backup.contains("hostname = lobby") && backup.contains("10.0.0.2"));
    // The rest of the boot partition is untouched.
    let files: Vec<String> = BootPartition::open(&disk)
        .unwrap()
        .files()
        .unwrap()
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    for expected in ["EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grub.cfg", "system.img"] {
        assert!(files.iter().any(|f| f == expected), "{files:?}");
    }
    assert!(!files.iter().any(|f| f.ends_with(".tmp")), "{files:?}");
    assert_fsck_clean(&disk);
}

#[test]
fn unchanged_text_writes_nothing_and_bad_text_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let disk = gpt_disk(dir.path());
    let write = replace_system_ini(&disk, INI).unwrap();
    assert!(!write.changed);
    assert!(!BootPartition::open(&disk)
        .unwrap()
        .exists(SYSTEM_INI_BACKUP));
    let error = replace_system_ini(&disk, "[broken\nkey\n").unwrap_err();
    assert!(error.to_string().contains("nothing was written"), "{error}");
    assert_eq!(read_system_ini_text(&disk).unwrap().as_deref(), Some(INI));
}

#[test]
fn system_ini_is_created_on_an_mbr_disk_and_on_a_superfloppy() {
    let dir = tempfile::tempdir().unwrap();
    // MBR: one FAT32 partition at 1 MiB.
    let mbr = dir.path().join("mbr.img");
    fs::write(&mbr, vec![0u8; 80 << 20]).unwrap();
    let table = Command::new("sfdisk")
        .arg("--quiet")
        .arg(&mbr)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"label: dos\nstart=2048, type=c\n")?;
            child.wait()
        })
        .expect("sfdisk is needed (apt install fdisk)");
    assert!(table.success());
    run(
        "mkfs.vfat",
        &[
            "-F",
            "32",
            "--offset",
            "2048",
            mbr.to_str().unwrap(),
            "79872",
        ],
    );
    // Superfloppy: FAT over the whole image.
    let floppy = dir.path().join("floppy.img");
    run(
        "mkfs.vfat",
        &["-C", "-F", "32", floppy.to_str().unwrap(), "70000"],
    );
    for (disk, table) in [(&mbr, Some(PartitionTable::Mbr)), (&floppy, None)] {
        let location = BootPartition::open(disk).unwrap().location();
        assert_eq!(location.table, table);
        assert_eq!(read_system_ini_text(disk).unwrap(), None);
        let write = set_system_ini_value(disk, "_default", "hostname", "fresh").unwrap();
        assert!(write.changed && !write.backed_up);
        assert_eq!(
            read_system_ini_text(disk).unwrap().as_deref(),
            Some("hostname = fresh\n")
        );
        assert_fsck_clean(disk);
    }
}

#[test]
fn a_disk_without_fat_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("blank.img");
    fs::write(&blank, vec![0u8; 1 << 20]).unwrap();
    let error = read_system_ini(&blank).unwrap_err().to_string();
    assert!(
        error.contains("blank.img") && error.contains("no FAT boot partition"),
        "{error}"
    );
}

/// Detaches the loop device when the test ends, also on failure.
struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn system_ini_is_edited_through_a_loop_device_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let disk = gpt_disk(dir.path());
    let device = Loop(
        run("losetup", &["-f", "--show", disk.to_str().unwrap()])
            .trim()
            .to_string(),
    );
    let node = PathBuf::from(&device.0);
    assert_eq!(
        read_system_ini(&node)
            .unwrap()
            .get("_default", "hostname")
            .as_deref(),
        Some("kiosk")
    );
    let write = set_system_ini_value(&node, "_default", "hostname", "lobby").unwrap();
    assert!(write.changed);
    drop(device);
    // The change is on the image behind the device.
    let text = read_system_ini_text(&disk).unwrap().unwrap();
    assert_eq!(text, INI.replace("hostname = kiosk", "hostname = lobby"));
    let partition = BootPartition::open(&disk).unwrap();
    let backup = partition.read(SYSTEM_INI_BACKUP).unwrap().unwrap();
    partition.close().unwrap();
    assert_eq!(String::from_utf8(backup).unwrap(), INI);
    assert_fsck_clean(&disk);
}

#[test]
fn edits_through_an_image_file_keep_comments_and_backup() {
    let dir = tempfile::tempdir().unwrap();
    let disk = gpt_disk(dir.path());
    edit_and_check(&disk, &disk);
}
