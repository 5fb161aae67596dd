//! Writing to drives through the one drive path both faces use (`genpack_install::drive`),
//! with loop devices standing in for USB sticks (root: losetup, mount), and the refusals
//! that keep a user's data safe.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{boot, run, test_image, Firmware, Medium, HOSTNAME_LINE};
use genpack_drive::{drives, Confirmation, FlashError};
use genpack_install::drive::{
    inspect_image, restore_drive, write_to_drive, write_to_drives, DriveControl, DriveProgress,
    DriveWrite, DriveWriteReport, DrivesWrite, ImageFile, ImageKind,
};
use genpack_install::{
    install_to_disk_image, make_iso, make_zip, BootPartition, InstallError, InstallOptions,
    IsoOptions, ZipOptions,
};

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
                DriveProgress::DriveDone { error, .. } => format!("done {error:?}"),
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
        [
            "layout",
            "Preparing",
            "Writing",
            "Verifying",
            "Finishing",
            "done None"
        ]
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

/// The outcome of writing `image` to the one stick, as the studio's "Choose a file…" and
/// `genpack install IMAGE --disk` both ask for it.
fn write_file_to_stick(image: &Path, stick: &Loop, progress: DriveProgressLog) -> DriveWriteReport {
    let request = DrivesWrite {
        image: image.to_path_buf(),
        drives: vec![Confirmation::for_drive(
            &drives::probe(&stick.device).unwrap(),
        )],
        options: InstallOptions::default(),
        sha256: None,
    };
    let control = DriveControl {
        cancel: None,
        progress: Some(progress.sink()),
    };
    let mut outcomes = write_to_drives(&request, control).unwrap();
    assert_eq!(outcomes.len(), 1);
    outcomes.pop().unwrap().result.unwrap()
}

/// The kinds of progress events seen, each once, in order.
#[derive(Clone, Default)]
struct DriveProgressLog(Arc<Mutex<Vec<String>>>);

impl DriveProgressLog {
    fn sink(&self) -> Box<dyn FnMut(&DriveProgress) + Send> {
        let seen = Arc::clone(&self.0);
        Box::new(move |event: &DriveProgress| {
            let name = match event {
                DriveProgress::Layout => "layout".to_string(),
                DriveProgress::Checksum { .. } => "checksum".to_string(),
                DriveProgress::Drive { phase, .. } => format!("{phase:?}"),
                DriveProgress::DriveDone { error, .. } => match error {
                    None => "done".to_string(),
                    Some(error) => format!("failed: {error}"),
                },
            };
            let mut seen = seen.lock().unwrap();
            if seen.last() != Some(&name) {
                seen.push(name);
            }
        })
    }

    fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn a_zip_export_written_to_a_stick_boots_with_the_zips_settings_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("system.ini");
    std::fs::write(&ini, "hostname = from-the-zip\n").unwrap();
    let zip = dir.path().join("appliance.zip");
    make_zip(
        test_image(),
        &zip,
        &ZipOptions {
            system_ini: Some(ini),
            system_cfg: None,
        },
    )
    .unwrap();
    assert_eq!(
        inspect_image(&zip).unwrap(),
        ImageFile {
            kind: ImageKind::GenpackZip,
            bytes: Some(std::fs::metadata(test_image()).unwrap().len()),
        }
    );
    let backing = dir.path().join("stick");
    filled(&backing, 256 * MIB, 0xa5);
    let stick = Loop::attach(&backing);
    let log = DriveProgressLog::default();
    let report = write_file_to_stick(&zip, &stick, log.clone());

    // Laid out like the image it holds: a partition table, BIOS boot, verified.
    assert_eq!(report.table, "mbr");
    assert!(report.bios_boot);
    assert_eq!(report.bytes_verified, report.image_bytes);
    assert_eq!(
        log.seen(),
        [
            "layout",
            "Preparing",
            "Writing",
            "Verifying",
            "Finishing",
            "done"
        ]
    );
    let boot_partition = BootPartition::open(&stick.device).unwrap();
    assert_eq!(
        boot_partition
            .read("system.img")
            .unwrap()
            .map(|bytes| bytes.len() as u64),
        Some(std::fs::metadata(test_image()).unwrap().len())
    );
    drop(boot_partition);
    drop(stick);
    // And it boots, with the hostname from the ZIP's system.ini.
    let (finished, serial) = boot(dir.path(), &backing, Medium::IdeDisk, Firmware::Bios);
    assert!(finished, "the stick did not boot:\n{serial}");
    assert!(
        serial.contains(&format!("{HOSTNAME_LINE}from-the-zip")),
        "{serial}"
    );
}

#[test]
fn an_iso_export_is_written_to_a_stick_as_it_is_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let iso = dir.path().join("appliance.iso");
    make_iso(test_image(), &iso, &IsoOptions::default()).unwrap();
    let iso_len = std::fs::metadata(&iso).unwrap().len();
    assert_eq!(
        inspect_image(&iso).unwrap(),
        ImageFile {
            kind: ImageKind::Disk {
                compression: "none".into()
            },
            bytes: Some(iso_len),
        }
    );
    let backing = dir.path().join("stick");
    filled(&backing, 256 * MIB, 0xa5);
    let stick = Loop::attach(&backing);
    let log = DriveProgressLog::default();
    let report = write_file_to_stick(&iso, &stick, log.clone());
    assert_eq!(report.table, "image");
    assert_eq!(report.image_bytes, iso_len);
    assert_eq!(
        log.seen(),
        ["Preparing", "Writing", "Verifying", "Finishing", "done"]
    );
    drop(stick);
    let written = std::fs::read(&backing).unwrap();
    assert!(
        written[..iso_len as usize] == std::fs::read(&iso).unwrap()[..],
        "the stick holds the ISO byte for byte"
    );

    // Settings belong to laid-out images: asked for with an ISO, nothing is written.
    let stick = Loop::attach(&backing);
    let request = DrivesWrite {
        image: iso.clone(),
        drives: vec![Confirmation::for_drive(
            &drives::probe(&stick.device).unwrap(),
        )],
        options: InstallOptions {
            system_ini: Some(dir.path().join("system.ini")),
            ..InstallOptions::default()
        },
        sha256: None,
    };
    let error = write_to_drives(&request, DriveControl::default()).unwrap_err();
    assert!(
        error.to_string().contains("written to the drive as it is"),
        "{error}"
    );
}

#[test]
fn a_zip_that_is_not_a_genpack_export_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("photos.zip");
    let file = std::fs::File::create(&zip).unwrap();
    let mut writer = zip::ZipWriter::new(file);
    writer
        .start_file("holiday.jpg", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut writer, b"not an image").unwrap();
    writer.finish().unwrap();
    let error = inspect_image(&zip).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("photos.zip") && message.contains("no system.img"),
        "{message}"
    );
}
