//! Flashing loop devices that stand in for USB sticks (root: losetup, mount).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use genpack_drive::{
    drives, verify, Confirmation, FlashError, FlashOptions, Flasher, Image, Phase, Refusal, Verdict,
};

fn flasher_for(lo: &Loop) -> Flasher {
    let drive = drives::probe(&lo.device).unwrap();
    Flasher::open(&lo.device, Confirmation::for_drive(&drive)).unwrap()
}

#[test]
fn write_and_verify_64mib_gpt_image_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let image_path = dir.path().join("appliance.img");
    disk_image(&image_path, 64 * MIB, "gpt", 1);
    // The stick is larger and carries an old GPT (its backup sits in the last MiB).
    let stick = dir.path().join("stick");
    filled_file(&stick, 96 * MIB, 0xaa);
    partition(&stick, "label: gpt\nstart=2048, type=linux\n");
    let lo = Loop::attach(&stick, &[]);

    let phases = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&phases);
    // While the image body is checked, neither partition table may be on the stick yet.
    let blank_while_verifying = Arc::new(Mutex::new(None));
    let blank = Arc::clone(&blank_while_verifying);
    let device = lo.device.clone();
    let options = FlashOptions {
        cancel: None,
        progress: Some(Box::new(move |p| {
            if p.phase == Phase::Verifying && blank.lock().unwrap().is_none() {
                let head = read_bytes(&device, 0, MIB as usize);
                let backup = read_bytes(&device, 64 * MIB - 512, 512);
                let zero = head.iter().chain(&backup).all(|&b| b == 0);
                *blank.lock().unwrap() = Some(zero);
            }
            log.lock().unwrap().push(p.clone())
        })),
        ..FlashOptions::default()
    };
    let image = Image::open(&image_path).unwrap();
    let report = flasher_for(&lo).write_image(&image, options).unwrap();

    // Byte-identical, as cmp sees it through the device node.
    ok(
        "cmp",
        &[
            "-n",
            &(64 * MIB).to_string(),
            image_path.to_str().unwrap(),
            lo.path(),
        ],
    );
    let table = ok("sfdisk", &["-d", lo.path()]);
    assert!(table.contains("label: gpt"), "{table}");
    // The old backup GPT at the end of the stick is gone.
    assert!(read_bytes(&lo.device, 95 * MIB, MIB as usize)
        .iter()
        .all(|&b| b == 0));
    // Only the image and the wiped ends were written, not the whole stick.
    assert_eq!(report.image_len, 64 * MIB);
    // Image + wiped first and last MiB + wiped backup GPT place (33 sectors, rounded out
    // to 4 KiB).
    assert_eq!(report.bytes_written, 64 * MIB + 2 * MIB + 5 * 4096);
    assert_eq!(report.bytes_verified, 64 * MIB);

    assert_eq!(*blank_while_verifying.lock().unwrap(), Some(true));
    let phases = phases.lock().unwrap();
    let mut order: Vec<Phase> = phases.iter().map(|p| p.phase).collect();
    order.dedup();
    assert_eq!(
        order,
        [
            Phase::Preparing,
            Phase::Writing,
            Phase::Verifying,
            Phase::Finishing
        ]
    );
    let last_write = phases.iter().rfind(|p| p.phase == Phase::Writing).unwrap();
    assert_eq!(last_write.bytes_done, last_write.bytes_total);
}

#[test]
fn cancel_mid_write_leaves_no_partition_table_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let image_path = dir.path().join("appliance.img");
    disk_image(&image_path, 64 * MIB, "dos", 2);
    let stick = dir.path().join("stick");
    filled_file(&stick, 64 * MIB, 0);
    partition(&stick, "label: dos\nstart=2048, type=c\n");
    let lo = Loop::attach(&stick, &[]);
    assert!(run("sfdisk", &["-d", lo.path()]).status.success());

    let cancel = Arc::new(AtomicBool::new(false));
    let trigger = Arc::clone(&cancel);
    let options = FlashOptions {
        cancel: Some(Arc::clone(&cancel)),
        progress: Some(Box::new(move |p| {
            if p.phase == Phase::Writing && p.bytes_done >= 8 * MIB {
                trigger.store(true, Ordering::Relaxed);
            }
        })),
        ..FlashOptions::default()
    };
    let image = Image::open(&image_path).unwrap();
    let err = flasher_for(&lo).write_image(&image, options).unwrap_err();
    match err {
        // Stopped at the next block: the wiped first and last MiB plus 8 MiB of image.
        FlashError::Cancelled { bytes_written, .. } => assert_eq!(bytes_written, 10 * MIB),
        other => panic!("expected a cancel, got {other}"),
    }
    assert!(read_bytes(&lo.device, 0, MIB as usize)
        .iter()
        .all(|&b| b == 0));
    let dump = run("sfdisk", &["-d", lo.path()]);
    assert!(!dump.status.success(), "a partition table is still visible");
    // The drive reads as "not the image" from the image's first non-zero byte on.
    let first_non_zero = read_bytes(&image_path, 0, 512).iter().position(|&b| b != 0);
    let verdict = verify::verify_drive(&lo.device, &image, FlashOptions::default()).unwrap();
    assert_eq!(
        verdict,
        Verdict::Mismatch {
            offset: first_non_zero.unwrap() as u64
        }
    );
}

#[test]
fn mismatch_while_writing_leaves_no_partition_table_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let image_path = dir.path().join("appliance.img");
    disk_image(&image_path, 64 * MIB, "dos", 5);
    let stick = dir.path().join("stick");
    filled_file(&stick, 64 * MIB, 0);
    let lo = Loop::attach(&stick, &[]);
    // A faulty stick: one byte changes between writing and reading back.
    let offset = 40 * MIB + 7;
    let (device, file) = (lo.device.clone(), lo.file.clone());
    let mut flipped = false;
    let options = FlashOptions {
        cancel: None,
        progress: Some(Box::new(move |p| {
            if p.phase == Phase::Verifying && !flipped {
                flip_byte(&device, &file, offset);
                flipped = true;
            }
        })),
        ..FlashOptions::default()
    };
    let image = Image::open(&image_path).unwrap();
    let err = flasher_for(&lo).write_image(&image, options).unwrap_err();
    match &err {
        FlashError::Mismatch { device, offset: at } => {
            assert_eq!(device, &lo.device);
            assert_eq!(*at, offset);
        }
        other => panic!("expected a mismatch, got {other}"),
    }
    assert!(read_bytes(&lo.device, 0, MIB as usize)
        .iter()
        .all(|&b| b == 0));
    assert!(!run("sfdisk", &["-d", lo.path()]).status.success());
}

#[test]
fn flipped_byte_fails_verification_at_its_offset_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let image_path = dir.path().join("appliance.img");
    disk_image(&image_path, 64 * MIB, "dos", 3);
    let stick = dir.path().join("stick");
    filled_file(&stick, 64 * MIB, 0);
    let lo = Loop::attach(&stick, &[]);
    let image = Image::open(&image_path).unwrap();
    let mut flasher = flasher_for(&lo);
    flasher
        .write_image(&image, FlashOptions::default())
        .unwrap();
    assert_eq!(
        verify::verify_drive(&lo.device, &image, FlashOptions::default()).unwrap(),
        Verdict::Verified
    );

    let offset = 37 * MIB + 12_345;
    flip_byte(&lo.device, &lo.file, offset);
    assert_eq!(
        verify::verify_drive(&lo.device, &image, FlashOptions::default()).unwrap(),
        Verdict::Mismatch { offset }
    );
    // A byte in the partition-table region counts the same.
    flip_byte(&lo.device, &lo.file, 446);
    assert_eq!(
        verify::verify_drive(&lo.device, &image, FlashOptions::default()).unwrap(),
        Verdict::Mismatch { offset: 446 }
    );
}

#[test]
fn image_larger_than_the_stick_is_refused_before_writing_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let image_path = dir.path().join("big.img");
    disk_image(&image_path, 16 * MIB, "dos", 4);
    let stick = dir.path().join("stick");
    filled_file(&stick, 8 * MIB, 0x77);
    let lo = Loop::attach(&stick, &[]);
    let image = Image::open(&image_path).unwrap();
    let err = flasher_for(&lo)
        .write_image(&image, FlashOptions::default())
        .unwrap_err();
    assert!(matches!(err, FlashError::ImageTooLarge { .. }), "{err}");
    assert!(
        read_bytes(&lo.device, 0, 4096).iter().all(|&b| b == 0x77),
        "untouched"
    );
}

#[test]
fn mounted_drive_is_refused_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ext4");
    filled_file(&file, 32 * MIB, 0);
    ok("mkfs.ext4", &["-q", "-F", file.to_str().unwrap()]);
    let lo = Loop::attach(&file, &[]);
    let mountpoint = dir.path().join("mnt");
    std::fs::create_dir(&mountpoint).unwrap();
    ok("mount", &[lo.path(), mountpoint.to_str().unwrap()]);
    let _mounted = Mounted(mountpoint.clone());

    let drive = drives::probe(&lo.device).unwrap();
    assert_eq!(
        drive.refusal(true),
        Some(Refusal::Mounted {
            device: lo.device.clone(),
            mountpoint: mountpoint.clone()
        })
    );
    assert_eq!(
        drive.filesystem.as_ref().map(|f| f.fs_type.as_str()),
        Some("ext4")
    );
    let err = Flasher::open(&lo.device, Confirmation::for_drive(&drive))
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            FlashError::Refused {
                reason: Refusal::Mounted { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(lo.path()),
        "names the device: {err}"
    );
}

#[test]
fn drive_held_by_another_program_is_busy_loop_needs_root() {
    use std::os::unix::fs::OpenOptionsExt;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stick");
    filled_file(&file, 8 * MIB, 0);
    let lo = Loop::attach(&file, &[]);
    let drive = drives::probe(&lo.device).unwrap();
    // Another program holds the device exclusively, as a mount would.
    let _holder = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_EXCL)
        .open(&lo.device)
        .unwrap();
    let err = Flasher::open(&lo.device, Confirmation::for_drive(&drive))
        .err()
        .unwrap();
    match &err {
        FlashError::Busy { device } => assert_eq!(device, &lo.device),
        other => panic!("expected busy, got {other}"),
    }
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn root_disk_is_refused() {
    let root = drives::list()
        .unwrap()
        .into_iter()
        .find(|d| d.holds_root)
        .expect("the disk holding / is listed");
    assert!(drives::root_disks().unwrap().contains(&root.name));
    assert!(!root.is_offerable(true));
    assert_eq!(root.refusal(true), Some(Refusal::HoldsRoot));
    let err = Flasher::open(&root.path, Confirmation::for_drive(&root))
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            FlashError::Refused {
                reason: Refusal::HoldsRoot,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn read_only_drive_is_refused_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("locked");
    filled_file(&file, 8 * MIB, 0);
    let lo = Loop::attach(&file, &["-r"]);
    let drive = drives::probe(&lo.device).unwrap();
    assert!(drive.read_only);
    assert_eq!(drive.refusal(true), Some(Refusal::ReadOnly));
    let err = Flasher::open(&lo.device, Confirmation::for_drive(&drive))
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            FlashError::Refused {
                reason: Refusal::ReadOnly,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn confirmation_of_another_size_is_refused_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stick");
    filled_file(&file, 8 * MIB, 0);
    let lo = Loop::attach(&file, &[]);
    let confirmed = Confirmation::new(&lo.device, 16 * MIB, false);
    let err = Flasher::open(&lo.device, confirmed).err().unwrap();
    match &err {
        FlashError::ConfirmationMismatch { device, what, .. } => {
            assert_eq!(device, &lo.device);
            assert_eq!(*what, "size");
        }
        other => panic!("expected a mismatch, got {other}"),
    }
    // Confirming one device and opening another is refused too.
    let other_file = dir.path().join("other");
    filled_file(&other_file, 8 * MIB, 0);
    let other = Loop::attach(&other_file, &[]);
    let drive = drives::probe(&lo.device).unwrap();
    let err = Flasher::open(&other.device, Confirmation::for_drive(&drive))
        .err()
        .unwrap();
    assert!(
        matches!(err, FlashError::ConfirmationMismatch { what: "path", .. }),
        "{err}"
    );
}

#[test]
fn another_medium_at_the_confirmed_path_is_refused_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    filled_file(&first, 8 * MIB, 0);
    filled_file(&second, 8 * MIB, 0);
    let lo = Loop::attach(&first, &[]);
    let drive = drives::probe(&lo.device).unwrap();
    let confirmation = Confirmation::for_drive(&drive);
    // The stick is pulled and another one of the same size appears at the same path.
    ok("losetup", &["-d", lo.path()]);
    ok("losetup", &[lo.path(), second.to_str().unwrap()]);
    let err = Flasher::open(&lo.device, confirmation).err().unwrap();
    assert!(
        matches!(
            err,
            FlashError::ConfirmationMismatch {
                what: "medium" | "model",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn discovery_lists_loop_devices_with_size_and_backing_file_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("listed");
    filled_file(&file, 24 * MIB, 0);
    let lo = Loop::attach(&file, &[]);
    let all = drives::list().unwrap();
    let drive = all.iter().find(|d| d.path == lo.device).expect("listed");
    assert_eq!(drive.size, 24 * MIB);
    assert_eq!(drive.bus, genpack_drive::Bus::Loop);
    assert_eq!(drive.backing_file.as_deref(), Some(file.as_path()));
    assert_eq!(drive.model.as_deref(), Some(file.to_str().unwrap()));
    assert_eq!(drive.logical_sector_size, 512);
    assert!(drive.is_offerable(false), "{:?}", drive.refusal(false));
    assert!(drive.description().contains("24.0 MiB"));
    // Unattached loop devices and zram are not drives.
    assert!(all
        .iter()
        .all(|d| d.size > 0 && !d.name.starts_with("zram")));
}

#[test]
fn watcher_reports_attach_and_detach_loop_needs_root() {
    use genpack_drive::{DriveEvent, Watcher};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hotplug");
    filled_file(&file, 8 * MIB, 0);
    let (watcher, events) = Watcher::start().unwrap();
    let lo = Loop::attach(&file, &[]);
    let wait_for = |want: &dyn Fn(&DriveEvent) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(event) = events.recv_timeout(Duration::from_millis(200)) {
                if want(&event) {
                    return true;
                }
            }
        }
        false
    };
    let device = lo.device.clone();
    assert!(wait_for(&|e| matches!(
        e,
        DriveEvent::Added(d) | DriveEvent::Changed(d) if d.path == device && d.size == 8 * MIB
    )));
    drop(lo);
    assert!(wait_for(
        &|e| matches!(e, DriveEvent::Removed { path } if *path == device)
    ));
    drop(watcher);
}

/// `raw` compressed by `program` into `<raw>.<ext>`, the raw file kept.
fn compress(raw: &std::path::Path, program: &str, ext: &str) -> std::path::PathBuf {
    let level = if program == "xz" { "-0" } else { "-1" };
    ok(program, &["-q", "-k", "-f", level, raw.to_str().unwrap()]);
    let out = std::path::PathBuf::from(format!("{}.{ext}", raw.display()));
    assert!(out.exists());
    out
}

#[test]
fn compressed_gpt_images_are_streamed_with_the_table_last_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("appliance.img");
    disk_image(&raw, 32 * MIB, "gpt", 11);
    let stick = dir.path().join("stick");
    filled_file(&stick, 48 * MIB, 0xaa);
    let lo = Loop::attach(&stick, &[]);
    for (program, ext) in [("xz", "xz"), ("zstd", "zst"), ("gzip", "gz")] {
        let packed = compress(&raw, program, ext);
        let blank = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&blank);
        let device = lo.device.clone();
        let options = FlashOptions {
            progress: Some(Box::new(move |p| {
                if p.phase == Phase::Verifying && seen.lock().unwrap().is_none() {
                    let head = read_bytes(&device, 0, MIB as usize);
                    let backup = read_bytes(&device, 32 * MIB - 33 * 512, 33 * 512);
                    *seen.lock().unwrap() = Some(head.iter().chain(&backup).all(|&b| b == 0));
                }
            })),
            ..FlashOptions::default()
        };
        let image = Image::open(&packed).unwrap();
        assert_eq!(image.compression().name(), program);
        let report = flasher_for(&lo).write_image(&image, options).unwrap();
        assert_eq!(report.image_len, 32 * MIB, "{program}");
        assert_eq!(
            *blank.lock().unwrap(),
            Some(true),
            "{program}: a partition table was on the stick before the body was verified"
        );
        ok(
            "cmp",
            &[
                "-n",
                &(32 * MIB).to_string(),
                raw.to_str().unwrap(),
                lo.path(),
            ],
        );
        assert!(ok("sfdisk", &["-d", lo.path()]).contains("label: gpt"));
        // The next format starts from a stick that is not this image any more.
        filled_file(&stick, 48 * MIB, 0xaa);
        ok("blockdev", &["--flushbufs", lo.path()]);
    }
}

#[test]
fn a_damaged_xz_image_leaves_no_partition_table_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("appliance.img");
    disk_image(&raw, 32 * MIB, "dos", 12);
    let packed = compress(&raw, "xz", "xz");
    let mut bytes = std::fs::read(&packed).unwrap();
    let middle = bytes.len() * 3 / 4;
    bytes[middle] ^= 0x55;
    std::fs::write(&packed, &bytes).unwrap();
    let stick = dir.path().join("stick");
    filled_file(&stick, 48 * MIB, 0);
    partition(&stick, "label: dos\nstart=2048, type=c\n");
    let lo = Loop::attach(&stick, &[]);
    let image = Image::open(&packed).unwrap();
    let err = flasher_for(&lo)
        .write_image(&image, FlashOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, FlashError::Decompress { format: "xz", .. }),
        "{err}"
    );
    assert!(read_bytes(&lo.device, 0, MIB as usize)
        .iter()
        .all(|&b| b == 0));
    assert!(!run("sfdisk", &["-d", lo.path()]).status.success());
}

#[test]
fn a_compressed_image_larger_than_the_stick_is_refused_before_writing_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("big.img");
    disk_image(&raw, 16 * MIB, "dos", 13);
    let packed = compress(&raw, "xz", "xz");
    let stick = dir.path().join("stick");
    filled_file(&stick, 8 * MIB, 0x77);
    let lo = Loop::attach(&stick, &[]);
    let image = Image::open(&packed).unwrap();
    assert_eq!(image.len(), Some(16 * MIB));
    let err = flasher_for(&lo)
        .write_image(&image, FlashOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, FlashError::ImageTooLarge { image_len, exact: true, .. } if image_len == 16 * MIB),
        "{err}"
    );
    assert!(
        read_bytes(&lo.device, 0, 8 * MIB as usize)
            .iter()
            .all(|&b| b == 0x77),
        "untouched"
    );
}

#[test]
fn a_stream_of_unknown_size_that_runs_past_the_stick_leaves_no_table_loop_needs_root() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("big.img");
    disk_image(&raw, 16 * MIB, "dos", 14);
    // Compressed from a pipe, zstd records no size: only writing finds out.
    let packed = dir.path().join("big.img.zst");
    let mut child = std::process::Command::new("zstd")
        .args(["-q", "-1", "-c", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(&packed).unwrap())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&raw).unwrap())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let stick = dir.path().join("stick");
    filled_file(&stick, 8 * MIB, 0);
    partition(&stick, "label: dos\nstart=2048, type=c\n");
    let lo = Loop::attach(&stick, &[]);
    let image = Image::open(&packed).unwrap();
    assert_eq!(image.len(), None);
    let err = flasher_for(&lo)
        .write_image(&image, FlashOptions::default())
        .unwrap_err();
    assert!(matches!(err, FlashError::RanPastEnd { .. }), "{err}");
    assert!(read_bytes(&lo.device, 0, MIB as usize)
        .iter()
        .all(|&b| b == 0));
    assert!(!run("sfdisk", &["-d", lo.path()]).status.success());
}

#[test]
fn many_sticks_at_once_one_failing_does_not_stop_the_others_loop_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("appliance.img");
    disk_image(&raw, 40 * MIB, "dos", 15);
    let packed = compress(&raw, "zstd", "zst");
    let first = dir.path().join("first");
    let last = dir.path().join("last");
    filled_file(&first, 64 * MIB, 0x11);
    filled_file(&last, 48 * MIB, 0x22);
    // A stick that breaks mid-write: its backing file sits on a 16 MiB tmpfs, so writes
    // past 16 MiB fail with an I/O error.
    let small = dir.path().join("tmpfs");
    std::fs::create_dir(&small).unwrap();
    ok(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=16m",
            "none",
            small.to_str().unwrap(),
        ],
    );
    let _mounted = Mounted(small.clone());
    let broken = small.join("broken");
    std::fs::File::create(&broken)
        .unwrap()
        .set_len(64 * MIB)
        .unwrap();
    let sticks = [
        Loop::attach(&first, &[]),
        Loop::attach(&broken, &[]),
        Loop::attach(&last, &[]),
    ];
    let flashers: Vec<Flasher> = sticks.iter().map(flasher_for).collect();
    let finished = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&finished);
    let options = FlashOptions {
        finished: Some(Box::new(move |device, result| {
            log.lock()
                .unwrap()
                .push((device.to_path_buf(), result.is_ok()));
        })),
        ..FlashOptions::default()
    };
    let image = Image::open(&packed).unwrap();
    let results = genpack_drive::write_to_all(&image, &flashers, options);
    drop(flashers);
    assert_eq!(results.len(), 3);
    for (i, stick) in [0, 2].map(|i| (i, &sticks[i])) {
        let report = results[i].as_ref().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.device, stick.device);
        assert_eq!(report.image_len, 40 * MIB);
        ok(
            "cmp",
            &[
                "-n",
                &(40 * MIB).to_string(),
                raw.to_str().unwrap(),
                stick.path(),
            ],
        );
    }
    let err = results[1].as_ref().unwrap_err();
    assert!(matches!(err, FlashError::Io { .. }), "{err}");
    assert!(
        err.to_string().contains(sticks[1].path()),
        "names the stick: {err}"
    );
    assert!(read_bytes(&sticks[1].device, 0, MIB as usize)
        .iter()
        .all(|&b| b == 0));
    let mut finished = finished.lock().unwrap().clone();
    finished.sort();
    let mut expected: Vec<_> = sticks
        .iter()
        .enumerate()
        .map(|(i, s)| (s.device.clone(), i != 1))
        .collect();
    expected.sort();
    assert_eq!(finished, expected);
}
