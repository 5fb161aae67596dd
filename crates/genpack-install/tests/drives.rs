//! Writing to drives through the one drive path both faces use (`genpack_install::drive`),
//! with loop devices standing in for USB sticks (root: losetup, mount), and the refusals
//! that keep a user's data safe.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{run, test_image};
use genpack_drive::{drives, Confirmation, FlashError};
use genpack_install::drive::{
    restore_drive, write_to_drive, DriveControl, DriveProgress, DriveWrite,
};
use genpack_install::{install_to_disk_image, BootPartition, InstallError, InstallOptions};

const MIB: u64 = 1 << 20;

/// A file attached as a loop device; detached when dropped.
struct Loop {
    device: PathBuf,
}

impl Loop {
    fn attach(file: &Path) -> Loop {
        let out = run("losetup", &["-f", "--show", &file.to_string_lossy()]);
        Loop {
            device: PathBuf::from(out.trim()),
        }
    }

    fn path(&self) -> String {
        self.device.to_string_lossy().into_owned()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

/// A file of `len` bytes filled with `byte`.
fn filled(path: &Path, len: u64, byte: u8) {
    std::fs::write(path, vec![byte; len as usize]).unwrap();
}

fn write_request(device: &Path, options: InstallOptions) -> DriveWrite {
    DriveWrite {
        image: test_image().to_path_buf(),
        drive: Confirmation::for_drive(&drives::probe(device).unwrap()),
        options,
    }
}

#[test]
fn an_image_written_to_a_stick_is_verified_and_boots_from_its_settings_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("stick");
    filled(&backing, 256 * MIB, 0xa5);
    let stick = Loop::attach(&backing);
    let ini = dir.path().join("system.ini");
    std::fs::write(&ini, "hostname = from-the-stick\n").unwrap();
    let phases = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&phases);
    let control = DriveControl {
        cancel: None,
        progress: Some(Box::new(move |event: &DriveProgress| {
            let name = match event {
                DriveProgress::Layout => "layout".to_string(),
                DriveProgress::Checksum { .. } => "checksum".to_string(),
                DriveProgress::Drive { phase, .. } => format!("{phase:?}"),
            };
            let mut seen = seen.lock().unwrap();
            if seen.last() != Some(&name) {
                seen.push(name);
            }
        })),
    };
    let options = InstallOptions {
        system_ini: Some(ini),
        ..InstallOptions::default()
    };
    let report = write_to_drive(&write_request(&stick.device, options), control).unwrap();

    assert_eq!(report.device, stick.device);
    assert_eq!(report.table, "mbr");
    assert!(report.bios_boot);
    assert_eq!(report.bytes_verified, report.image_bytes);
    assert!(report.drive.contains("256.0 MiB"), "{}", report.drive);
    assert_eq!(
        *phases.lock().unwrap(),
        ["layout", "Preparing", "Writing", "Verifying", "Finishing"]
    );
    // The stick carries the partition table, the image and the settings.
    let table = run("sfdisk", &["-d", &stick.path()]);
    assert!(table.contains("label: dos"), "{table}");
    let boot = BootPartition::open(&stick.device).unwrap();
    assert!(boot.exists("system.img"));
    assert_eq!(
        boot.read("system.ini").unwrap().as_deref(),
        Some(&b"hostname = from-the-stick\n"[..])
    );
    assert_eq!(
        boot.location().offset,
        report.layout.as_ref().unwrap().partition_offset,
        "the report says where the boot partition is"
    );
}

#[test]
fn a_drive_that_changed_since_it_was_confirmed_is_not_touched_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("stick");
    filled(&backing, 128 * MIB, 0x5c);
    let stick = Loop::attach(&backing);
    let seen = drives::probe(&stick.device).unwrap();
    // The user confirmed a drive of another size at this path (another stick was plugged in).
    let confirmed = Confirmation::new(&stick.device, seen.size + MIB, false)
        .with_medium(seen.diskseq)
        .with_identity(seen.model.clone(), seen.serial.clone());
    let request = DriveWrite {
        image: test_image().to_path_buf(),
        drive: confirmed,
        options: InstallOptions::default(),
    };
    let error = write_to_drive(&request, DriveControl::default()).unwrap_err();
    match &error {
        InstallError::Drive(FlashError::ConfirmationMismatch { what, .. }) => {
            assert_eq!(*what, "size")
        }
        other => panic!("expected a mismatch, got {other}"),
    }
    assert!(
        error.to_string().contains("pick the drive again"),
        "{error}"
    );
    let content = std::fs::read(&backing).unwrap();
    assert!(content.iter().all(|&b| b == 0x5c), "the stick was written");
}

#[test]
fn cancel_before_the_write_leaves_the_drive_untouched_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("stick");
    filled(&backing, 128 * MIB, 0x33);
    let stick = Loop::attach(&backing);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let control = DriveControl {
        cancel: Some(cancel),
        progress: Some(Box::new(move |event: &DriveProgress| {
            if *event == DriveProgress::Layout {
                flag.store(true, Ordering::Relaxed);
            }
        })),
    };
    let error = write_to_drive(
        &write_request(&stick.device, InstallOptions::default()),
        control,
    )
    .unwrap_err();
    assert!(
        matches!(error, InstallError::Cancelled { .. }),
        "expected a cancel, got {error}"
    );
    assert!(error.to_string().contains("not touched"), "{error}");
    let content = std::fs::read(&backing).unwrap();
    assert!(content.iter().all(|&b| b == 0x33));
}

#[test]
fn a_drive_given_as_an_image_file_is_refused_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("stick");
    filled(&backing, 64 * MIB, 0);
    let stick = Loop::attach(&backing);
    let error =
        install_to_disk_image(test_image(), &stick.device, &InstallOptions::default()).unwrap_err();
    assert!(matches!(error, InstallError::NotAFile { .. }), "{error}");
    assert!(error.to_string().contains("--disk"), "{error}");
}

#[test]
fn a_file_backing_a_mounted_loop_device_is_refused_and_kept_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("data.img");
    filled(&backing, 64 * MIB, 0);
    run("mkfs.ext4", &["-q", "-F", &backing.to_string_lossy()]);
    let device = Loop::attach(&backing);
    let mount_point = dir.path().join("mnt");
    std::fs::create_dir(&mount_point).unwrap();
    run("mount", &[&device.path(), &mount_point.to_string_lossy()]);
    std::fs::write(mount_point.join("precious.txt"), "keep me").unwrap();
    let error = install_to_disk_image(test_image(), &backing, &InstallOptions::default());
    let _ = Command::new("umount").arg(&mount_point).status();
    let error = error.unwrap_err();
    assert!(matches!(error, InstallError::InUse { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains(&device.path()), "{message}");
    assert!(message.contains("losetup -d"), "{message}");
    // The file system is as it was.
    let fsck = Command::new("e2fsck")
        .args(["-n", "-f"])
        .arg(&backing)
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
}

#[test]
fn restore_makes_one_fat32_partition_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("stick");
    filled(&backing, 128 * MIB, 0x5c);
    let gpt = Command::new("sfdisk")
        .arg("-q")
        .arg(&backing)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"label: gpt\nstart=2048, size=8192, type=uefi\n")?;
            child.wait()
        })
        .unwrap();
    assert!(gpt.success());
    let stick = Loop::attach(&backing);
    let confirmed = Confirmation::for_drive(&drives::probe(&stick.device).unwrap());
    let report = restore_drive(&confirmed, DriveControl::default()).unwrap();
    assert_eq!(report.partition_start, MIB);
    assert_eq!(report.partition_size, 127 * MIB);
    assert_eq!(report.label, "USB");

    let table = run("sfdisk", &["-d", &stick.path()]);
    assert!(table.contains("label: dos"), "{table}");
    let parts: Vec<&str> = table.lines().filter(|l| l.starts_with("/dev/")).collect();
    assert_eq!(parts.len(), 1, "{table}");
    assert!(parts[0].contains("start=        2048"), "{table}");
    assert!(parts[0].contains("type=c"), "{table}");
    // No trace of the old GPT (wipefs would find its backup at the end).
    assert!(run("wipefs", &["-n", &stick.path()])
        .lines()
        .all(|l| !l.contains("gpt")));

    // The FAT32 file system checks clean and carries the label and serial.
    let at_1m = format!("{}@@1M", backing.display());
    let info = run("minfo", &["-i", &at_1m, "::"]);
    assert!(info.contains("USB"), "{info}");
    let serial = report.volume_id.replace('-', "");
    assert!(info.contains(&format!("serial number: {serial}")), "{info}");
    run("mdir", &["-i", &at_1m, "::"]);
    let part = Command::new("losetup")
        .args(["-f", "--show", "-o", "1048576"])
        .arg(&backing)
        .output()
        .unwrap();
    let part = Loop {
        device: PathBuf::from(String::from_utf8_lossy(&part.stdout).trim()),
    };
    let fsck = Command::new("fsck.vfat")
        .args(["-n"])
        .arg(&part.device)
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let probe = run("blkid", &["-p", "-o", "export", &part.path()]);
    assert!(
        probe.contains("TYPE=vfat") && probe.contains("VERSION=FAT32"),
        "{probe}"
    );
}
