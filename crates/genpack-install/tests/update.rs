//! Self-update of a boot partition: every intermediate state boots (old or new image) in
//! QEMU, rollback works, bad images change nothing.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run, squashfs};
use genpack_init::initramfs::{build_initramfs, Compression, InitramfsSpec};
use genpack_install::update::{SWAP_RECORD, SYSTEM_CUR, SYSTEM_IMG, SYSTEM_NEW, SYSTEM_OLD};
use genpack_install::{
    install_to_disk_image, rollback, self_update, BootPartition, InstallOptions, Recovery, Step,
    UpdateError, UpdateOptions,
};

/// An image tree with busybox whose /sbin/init runs `script`, then powers off. Programs in
/// `programs` go to /usr/bin.
fn image_tree(root: &Path, name: &str, boot: &BootParts, script: &str, programs: &[&Path]) {
    for dir in [
        "bin", "sbin", "usr/bin", "etc", "proc", "sys", "dev", "run", "tmp", "boot", ".genpack",
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::write(root.join(".genpack/artifact"), format!("update-{name}\n")).unwrap();
    fs::copy(&boot.kernel, root.join("boot/kernel")).unwrap();
    fs::copy(&boot.initramfs, root.join("boot/initramfs")).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("busybox-static is needed (apt install busybox-static)");
    for applet in ["sh", "echo", "poweroff", "grep", "cat", "sync"] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    for program in programs {
        fs::copy(
            program,
            root.join("usr/bin").join(program.file_name().unwrap()),
        )
        .unwrap();
    }
    let init = root.join("sbin/init");
    fs::write(&init, format!("#!/bin/sh\n{script}\npoweroff -f\n")).unwrap();
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A genpack image without a kernel (for tests that never boot).
fn unbootable_image(dir: &Path, name: &str) -> PathBuf {
    let tree = dir.join(format!("tree-{name}"));
    fs::create_dir_all(tree.join(".genpack")).unwrap();
    fs::create_dir_all(tree.join("boot")).unwrap();
    fs::write(tree.join(".genpack/artifact"), format!("{name}\n")).unwrap();
    fs::write(tree.join("boot/kernel"), format!("kernel of {name}")).unwrap();
    fs::write(tree.join("boot/initramfs"), format!("initramfs of {name}")).unwrap();
    let image = dir.join(format!("{name}.squashfs"));
    squashfs(&tree, &image);
    image
}

/// A boot directory as a running system has it: system.img and grub.cfg.
fn boot_dir_with(dir: &Path, image: &Path) -> PathBuf {
    let boot = dir.join("boot");
    fs::create_dir_all(boot.join("EFI/BOOT")).unwrap();
    fs::copy(image, boot.join(SYSTEM_IMG)).unwrap();
    fs::write(
        boot.join("EFI/BOOT/grub.cfg"),
        genpack_install::grub::grub_cfg(genpack_install::VolumeId(0x1234_abcd)),
    )
    .unwrap();
    boot
}

fn same_file(a: &Path, b: &Path) -> bool {
    fs::read(a).unwrap() == fs::read(b).unwrap()
}

#[test]
fn update_keeps_the_running_image_and_rollback_toggles() {
    let dir = tempfile::tempdir().unwrap();
    let old = unbootable_image(dir.path(), "old");
    let new = unbootable_image(dir.path(), "new");
    let boot = boot_dir_with(dir.path(), &old);
    let mut reports = Vec::new();
    let report = self_update(&new, &UpdateOptions::new(&boot), &mut |p| reports.push(p)).unwrap();
    assert_eq!(report.last_step, Some(Step::RefreshBootFiles));
    assert!(!report.stopped_early);
    assert!(same_file(&boot.join(SYSTEM_IMG), &new));
    assert!(same_file(&boot.join(SYSTEM_CUR), &old));
    assert!(!boot.join(SYSTEM_NEW).exists());
    let last = reports.last().unwrap();
    assert_eq!(last.bytes_done, fs::metadata(&new).unwrap().len());
    assert_eq!(last.bytes_done, last.bytes_total);

    // Not booted yet: rollback puts the running image back, a second one undoes it.
    assert_eq!(
        rollback(&UpdateOptions::new(&boot)).unwrap().restored_from,
        SYSTEM_CUR
    );
    assert!(same_file(&boot.join(SYSTEM_IMG), &old));
    assert!(same_file(&boot.join(SYSTEM_CUR), &new));
    rollback(&UpdateOptions::new(&boot)).unwrap();
    assert!(same_file(&boot.join(SYSTEM_IMG), &new));

    // After a boot (the initramfs renames system.cur to system.old), rollback uses system.old.
    fs::rename(boot.join(SYSTEM_CUR), boot.join(SYSTEM_OLD)).unwrap();
    assert_eq!(
        rollback(&UpdateOptions::new(&boot)).unwrap().restored_from,
        SYSTEM_OLD
    );
    assert!(same_file(&boot.join(SYSTEM_IMG), &old));
    assert!(same_file(&boot.join(SYSTEM_OLD), &new));
}

#[test]
fn an_image_on_the_data_partition_is_updated_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let old = unbootable_image(dir.path(), "old");
    let new = unbootable_image(dir.path(), "new");
    let data = dir.path().join("rw");
    fs::create_dir_all(&data).unwrap();
    fs::copy(&old, data.join("system")).unwrap();
    let boot = boot_dir_with(dir.path(), &old);
    fs::remove_file(boot.join(SYSTEM_IMG)).unwrap();
    let options = UpdateOptions {
        boot_files_dir: Some(boot.clone()),
        ..UpdateOptions::data_partition(&data)
    };
    self_update(&new, &options, &mut |_| {}).unwrap();
    assert!(same_file(&data.join("system"), &new));
    assert!(same_file(&data.join(SYSTEM_CUR), &old));
    assert!(!boot.join(SYSTEM_IMG).exists());
    assert_eq!(rollback(&options).unwrap().restored_from, SYSTEM_CUR);
    assert!(same_file(&data.join("system"), &old));
}

#[test]
fn an_update_over_an_unbooted_update_keeps_the_running_image() {
    let dir = tempfile::tempdir().unwrap();
    let running = unbootable_image(dir.path(), "running");
    let pending = unbootable_image(dir.path(), "pending");
    let newest = unbootable_image(dir.path(), "newest");
    let boot = boot_dir_with(dir.path(), &running);
    self_update(&pending, &UpdateOptions::new(&boot), &mut |_| {}).unwrap();
    self_update(&newest, &UpdateOptions::new(&boot), &mut |_| {}).unwrap();
    assert!(same_file(&boot.join(SYSTEM_IMG), &newest));
    assert!(same_file(&boot.join(SYSTEM_CUR), &running));
    assert!(!boot.join(SYSTEM_NEW).exists());
}

#[test]
fn a_crash_after_the_swap_loses_no_image_and_rollback_finds_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = unbootable_image(dir.path(), "old");
    let new = unbootable_image(dir.path(), "new");
    let boot = boot_dir_with(dir.path(), &old);
    // Cut short between the exchange and keeping the previous image.
    self_update(
        &new,
        &UpdateOptions::new(&boot).stop_after(Step::Swap),
        &mut |_| {},
    )
    .unwrap();
    assert!(same_file(&boot.join(SYSTEM_IMG), &new));
    assert!(same_file(&boot.join(SYSTEM_NEW), &old));
    assert!(boot.join(SWAP_RECORD).exists());

    let report = rollback(&UpdateOptions::new(&boot)).unwrap();
    assert_eq!(report.recovered, Some(Recovery::PreviousImageKept));
    assert_eq!(report.restored_from, SYSTEM_CUR);
    assert!(same_file(&boot.join(SYSTEM_IMG), &old));
    assert!(same_file(&boot.join(SYSTEM_CUR), &new));
    assert!(!boot.join(SYSTEM_NEW).exists() && !boot.join(SWAP_RECORD).exists());
}

#[test]
fn the_next_update_after_a_crash_keeps_the_image_that_ran() {
    let dir = tempfile::tempdir().unwrap();
    let old = unbootable_image(dir.path(), "old");
    let new = unbootable_image(dir.path(), "new");
    let newer = unbootable_image(dir.path(), "newer");
    let boot = boot_dir_with(dir.path(), &old);
    self_update(
        &new,
        &UpdateOptions::new(&boot).stop_after(Step::Swap),
        &mut |_| {},
    )
    .unwrap();
    let report = self_update(&newer, &UpdateOptions::new(&boot), &mut |_| {}).unwrap();
    assert_eq!(report.recovered, Some(Recovery::PreviousImageKept));
    assert!(same_file(&boot.join(SYSTEM_IMG), &newer));
    // `old` ran; `new` was never booted, so it is the one dropped.
    assert!(same_file(&boot.join(SYSTEM_CUR), &old));
    assert!(!boot.join(SYSTEM_NEW).exists() && !boot.join(SWAP_RECORD).exists());
}

#[test]
fn a_crash_before_the_exchange_leaves_the_running_image_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let old = unbootable_image(dir.path(), "old");
    let new = unbootable_image(dir.path(), "new");
    let boot = boot_dir_with(dir.path(), &old);
    // The swap record written, the exchange not: undo the exchange a stop after Swap made.
    self_update(
        &new,
        &UpdateOptions::new(&boot).stop_after(Step::Swap),
        &mut |_| {},
    )
    .unwrap();
    fs::rename(boot.join(SYSTEM_IMG), boot.join("moving")).unwrap();
    fs::rename(boot.join(SYSTEM_NEW), boot.join(SYSTEM_IMG)).unwrap();
    fs::rename(boot.join("moving"), boot.join(SYSTEM_NEW)).unwrap();
    assert!(same_file(&boot.join(SYSTEM_IMG), &old));

    match rollback(&UpdateOptions::new(&boot)) {
        Err(UpdateError::NothingToRollBack { .. }) => {}
        other => panic!("expected nothing to roll back, got {other:?}"),
    }
    assert!(
        same_file(&boot.join(SYSTEM_IMG), &old),
        "the running image stays"
    );
    assert!(!boot.join(SYSTEM_NEW).exists() && !boot.join(SWAP_RECORD).exists());
}

#[test]
fn a_torn_copy_is_removed_and_the_running_image_kept() {
    let dir = tempfile::tempdir().unwrap();
    let old = unbootable_image(dir.path(), "old");
    let new = unbootable_image(dir.path(), "new");
    let boot = boot_dir_with(dir.path(), &old);
    // Power cut in the middle of copying system.new: half a file, no swap record.
    let bytes = fs::read(&new).unwrap();
    fs::write(boot.join(SYSTEM_NEW), &bytes[..bytes.len() / 2]).unwrap();
    let report = self_update(&new, &UpdateOptions::new(&boot), &mut |_| {}).unwrap();
    assert_eq!(report.recovered, Some(Recovery::UnusedCopyRemoved));
    assert!(same_file(&boot.join(SYSTEM_IMG), &new));
    assert!(same_file(&boot.join(SYSTEM_CUR), &old));
}

#[test]
fn bad_images_change_nothing_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let old = unbootable_image(dir.path(), "old");
    let boot = boot_dir_with(dir.path(), &old);
    let before: Vec<_> = fs::read_dir(&boot)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();

    let truncated = dir.path().join("truncated.squashfs");
    let full_tree = dir.path().join("full");
    fs::create_dir_all(full_tree.join(".genpack")).unwrap();
    fs::create_dir_all(full_tree.join("boot")).unwrap();
    fs::write(full_tree.join(".genpack/artifact"), "full\n").unwrap();
    // Incompressible bytes, so that half of the file misses data.
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    fs::write(full_tree.join("boot/kernel"), &noise).unwrap();
    fs::write(full_tree.join("boot/initramfs"), "i").unwrap();
    let full = dir.path().join("full.squashfs");
    squashfs(&full_tree, &full);
    let bytes = fs::read(&full).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let not_squashfs = dir.path().join("notes.txt");
    fs::write(&not_squashfs, "hello").unwrap();
    let no_kernel_tree = dir.path().join("no-kernel");
    fs::create_dir_all(no_kernel_tree.join(".genpack")).unwrap();
    fs::write(no_kernel_tree.join(".genpack/artifact"), "x\n").unwrap();
    let no_kernel = dir.path().join("no-kernel.squashfs");
    squashfs(&no_kernel_tree, &no_kernel);
    // A complete image that GRUB could not read after the update: refused before the swap.
    let zstd = dir.path().join("zstd.squashfs");
    run(
        "mksquashfs",
        &[
            full_tree.to_str().unwrap(),
            zstd.to_str().unwrap(),
            "-noappend",
            "-quiet",
            "-all-root",
            "-comp",
            "zstd",
        ],
    );

    for (image, says) in [
        (&truncated, "incomplete"),
        (&not_squashfs, "too short to be a SquashFS image"),
        (&no_kernel, "/boot/kernel is missing"),
        (&zstd, "GRUB cannot read"),
    ] {
        let error = self_update(image, &UpdateOptions::new(&boot), &mut |_| {}).unwrap_err();
        assert!(matches!(error, UpdateError::BadImage { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.contains(says) && message.contains("nothing was changed"),
            "{message}"
        );
    }
    let after: Vec<_> = fs::read_dir(&boot)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after);
    assert!(same_file(&boot.join(SYSTEM_IMG), &old));

    let error = rollback(&UpdateOptions::new(&boot)).unwrap_err();
    assert!(
        matches!(error, UpdateError::NothingToRollBack { .. }),
        "{error}"
    );
    let error = self_update(
        &old,
        &UpdateOptions::new(dir.path().join("elsewhere")),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(error.to_string().contains("--boot-dir"), "{error}");
}

#[test]
fn loaders_carried_by_the_image_replace_those_on_the_partition() {
    let dir = tempfile::tempdir().unwrap();
    let old = unbootable_image(dir.path(), "old");
    let tree = dir.path().join("tree-new");
    fs::create_dir_all(tree.join(".genpack")).unwrap();
    fs::create_dir_all(tree.join("boot")).unwrap();
    fs::create_dir_all(tree.join("usr/lib/genpack-install")).unwrap();
    fs::write(tree.join(".genpack/artifact"), "new\n").unwrap();
    fs::write(tree.join("boot/kernel"), "k").unwrap();
    fs::write(tree.join("boot/initramfs"), "i").unwrap();
    fs::write(
        tree.join("usr/lib/genpack-install/bootx64.efi"),
        "MZ new loader",
    )
    .unwrap();
    let new = dir.path().join("new.squashfs");
    squashfs(&tree, &new);
    let boot = boot_dir_with(dir.path(), &old);
    fs::write(boot.join("EFI/BOOT/BOOTX64.EFI"), "MZ old loader").unwrap();
    // An outdated grub.cfg is regenerated for the same volume id.
    fs::write(
        boot.join("EFI/BOOT/grub.cfg"),
        "linux /boot/kernel root=systemimg:1234-ABCD\n",
    )
    .unwrap();
    let report = self_update(&new, &UpdateOptions::new(&boot), &mut |_| {}).unwrap();
    assert_eq!(
        report.refreshed,
        vec![
            "EFI/BOOT/BOOTX64.EFI".to_string(),
            "EFI/BOOT/grub.cfg".to_string()
        ]
    );
    assert_eq!(
        fs::read_to_string(boot.join("EFI/BOOT/BOOTX64.EFI")).unwrap(),
        "MZ new loader"
    );
    assert_eq!(
        fs::read_to_string(boot.join("EFI/BOOT/grub.cfg")).unwrap(),
        genpack_install::grub::grub_cfg(genpack_install::VolumeId(0x1234_abcd))
    );
}

// ---- Fault injection in QEMU ----

/// The newest kernel with modules on this machine: (version, vmlinuz).
fn host_kernel() -> (String, PathBuf) {
    let mut versions: Vec<String> = fs::read_dir("/lib/modules")
        .expect("kernel modules are needed (apt install linux-image-amd64)")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|v| Path::new(&format!("/lib/modules/{v}/modules.dep")).exists())
        .filter(|v| Path::new(&format!("/boot/vmlinuz-{v}")).exists())
        .collect();
    versions.sort();
    let version = versions.pop().expect("a kernel in /boot with modules");
    let vmlinuz = PathBuf::from(format!("/boot/vmlinuz-{version}"));
    (version, vmlinuz)
}

/// The host kernel and our initramfs, for bootable test images.
struct BootParts {
    kernel: PathBuf,
    initramfs: PathBuf,
}

fn boot_parts(dir: &Path) -> BootParts {
    let cache = std::env::var_os(genpack_init::binaries::CACHE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot-binaries"));
    let bins = genpack_init::boot_binaries_in(&cache, genpack_init::Profile::Dev).unwrap();
    let (version, kernel) = host_kernel();
    let initramfs = dir.join("initramfs");
    let spec = InitramfsSpec::new(bins.initramfs_init.clone(), "/".into(), version);
    build_initramfs(&spec, &initramfs, Compression::Gzip).unwrap();
    BootParts { kernel, initramfs }
}

fn bootable_image(
    dir: &Path,
    name: &str,
    boot: &BootParts,
    script: &str,
    programs: &[&Path],
) -> PathBuf {
    let tree = dir.join(format!("tree-{name}"));
    image_tree(&tree, name, boot, script, programs);
    let image = dir.join(format!("{name}.squashfs"));
    squashfs(&tree, &image);
    fs::remove_dir_all(&tree).unwrap();
    image
}

/// Two bootable images (`old` and `new`) that print `GENPACK-IMAGE: <name>`.
fn bootable_images(dir: &Path) -> (PathBuf, PathBuf) {
    let boot = boot_parts(dir);
    let image = |name: &str| {
        bootable_image(
            dir,
            name,
            &boot,
            &format!("echo \"GENPACK-IMAGE: {name}\""),
            &[],
        )
    };
    (image("old"), image("new"))
}

/// Every file under `root`, as `/`-separated relative paths.
fn tree_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

/// Makes the boot partition of `disk` hold exactly the files of `boot`.
fn lay_onto(boot: &Path, disk: &Path) {
    let mut partition = BootPartition::open(disk).unwrap();
    let wanted = tree_files(boot);
    for (path, _) in partition.files().unwrap() {
        if !wanted.iter().any(|w| w.eq_ignore_ascii_case(&path)) {
            partition.remove(&path).unwrap();
        }
    }
    for path in &wanted {
        let bytes = fs::read(boot.join(path)).unwrap();
        if partition.read(path).unwrap().as_deref() != Some(bytes.as_slice()) {
            partition.write(path, &mut bytes.as_slice()).unwrap();
        }
    }
    partition.close().unwrap();
}

/// The firmware writes bytes that are not UTF-8 to the console.
fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

/// Boots `disk` through OVMF and GRUB; returns the image name printed on the serial console
/// (`None` when nothing booted) and the log.
fn boot_disk(disk: &Path, work: &Path) -> (Option<String>, String) {
    let vars = work.join("OVMF_VARS.fd");
    fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).expect("ovmf is needed (apt install ovmf)");
    let serial = work.join("serial.log");
    let _ = fs::remove_file(&serial);
    let mut qemu = Command::new("qemu-system-x86_64")
        .args(["-machine", "q35", "-accel", "tcg", "-m", "512"])
        // No -no-reboot: OVMF resets once when it first records the disk's boot entry.
        .args(["-display", "none", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .arg("-drive")
        .arg("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
        .arg("-drive")
        .arg(format!("if=pflash,format=raw,file={}", vars.display()))
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", disk.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(work.join("qemu.stderr")).unwrap())
        .spawn()
        .expect("qemu-system-x86_64 is needed (apt install qemu-system-x86)");
    // A generous wall-clock limit for software emulation; not a speed assertion.
    let deadline = Instant::now() + Duration::from_secs(600);
    let found = loop {
        let log = read_lossy(&serial);
        if let Some(line) = log.lines().find(|l| l.starts_with("GENPACK-IMAGE: ")) {
            break Some(line["GENPACK-IMAGE: ".len()..].trim().to_string());
        }
        if qemu.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let _ = qemu.kill();
    let status = qemu.wait();
    let log = format!(
        "{}\n(QEMU: {status:?}, stderr: {})",
        read_lossy(&serial),
        read_lossy(&work.join("qemu.stderr"))
    );
    (found, log)
}

#[test]
fn every_interrupted_update_and_a_rollback_boot_in_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = bootable_images(dir.path());
    // The disk as `genpack install` writes it, with the old image.
    let pristine = dir.path().join("pristine.img");
    install_to_disk_image(
        &old,
        &pristine,
        &InstallOptions {
            size: Some(256 << 20),
            ..Default::default()
        },
    )
    .unwrap();
    // The running system's view of that partition: a directory.
    let template = dir.path().join("template");
    let partition = BootPartition::open(&pristine).unwrap();
    for (path, _) in partition.files().unwrap() {
        let out = template.join(&path);
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        partition.copy_out(&path, &out).unwrap();
    }
    partition.close().unwrap();

    let disk = dir.path().join("disk.img");
    let mut boots = Vec::new();
    for step in Step::ALL {
        let boot = dir.path().join(format!("boot-{step}"));
        run(
            "cp",
            &["-a", template.to_str().unwrap(), boot.to_str().unwrap()],
        );
        let report = self_update(
            &new,
            &UpdateOptions::new(&boot).stop_after(step),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(report.last_step, Some(step));
        fs::copy(&pristine, &disk).unwrap();
        lay_onto(&boot, &disk);
        let (booted, log) = boot_disk(&disk, dir.path());
        let expected = if step < Step::Swap { "old" } else { "new" };
        assert_eq!(
            booted.as_deref(),
            Some(expected),
            "after step {step} the disk holds {:?}; serial log:\n{log}",
            tree_files(&boot)
        );
        boots.push((step, booted));
        if step == Step::RefreshBootFiles {
            // The initramfs turned system.cur into system.old on that boot.
            let files: Vec<String> = BootPartition::open(&disk)
                .unwrap()
                .files()
                .unwrap()
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            assert!(
                files.iter().any(|f| f == SYSTEM_OLD) && !files.iter().any(|f| f == SYSTEM_CUR),
                "{files:?}"
            );
            // Roll back on that booted state: the old image boots again.
            let booted_dir = dir.path().join("booted");
            let partition = BootPartition::open(&disk).unwrap();
            for (path, _) in partition.files().unwrap() {
                let out = booted_dir.join(&path);
                fs::create_dir_all(out.parent().unwrap()).unwrap();
                partition.copy_out(&path, &out).unwrap();
            }
            partition.close().unwrap();
            assert_eq!(
                rollback(&UpdateOptions::new(&booted_dir))
                    .unwrap()
                    .restored_from,
                SYSTEM_OLD
            );
            lay_onto(&booted_dir, &disk);
            let (booted, log) = boot_disk(&disk, dir.path());
            assert_eq!(
                booted.as_deref(),
                Some("old"),
                "after rollback; serial log:\n{log}"
            );
        }
        fs::remove_dir_all(&boot).unwrap();
    }
    eprintln!("booted per step: {boots:?}");
}

/// A static program that exchanges two paths with renameat2(RENAME_EXCHANGE), as
/// `self_update` does, for running inside the guest.
fn exchange_program(dir: &Path) -> PathBuf {
    let source = dir.join("exchange.rs");
    fs::write(
        &source,
        r#"use std::ffi::CString;
extern "C" {
    fn renameat2(old_dir: i32, old: *const std::ffi::c_char, new_dir: i32, new: *const std::ffi::c_char, flags: u32) -> i32;
}
fn main() {
    let args: Vec<CString> = std::env::args().skip(1).map(|a| CString::new(a).unwrap()).collect();
    // AT_FDCWD = -100, RENAME_EXCHANGE = 2
    let result = unsafe { renameat2(-100, args[0].as_ptr(), -100, args[1].as_ptr(), 2) };
    if result != 0 {
        eprintln!("exchange failed: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
}
"#,
    )
    .unwrap();
    let program = dir.join("exchange");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "-C",
            "target-feature=+crt-static",
            "-o",
        ])
        .arg(&program)
        .arg(&source)
        .status()
        .expect("rustc is needed");
    assert!(status.success());
    program
}

/// What `self_update` relies on: the guest kernel exchanges two files on the mounted FAT boot
/// partition, and the result is on the disk after a sync (checked from outside with fatfs
/// and fsck.fat).
#[test]
fn the_kernel_exchanges_files_on_the_fat_boot_partition_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let boot = boot_parts(dir.path());
    let program = exchange_program(dir.path());
    let image = bootable_image(
        dir.path(),
        "exchange",
        &boot,
        "cd /run/initramfs/boot && echo first > a.txt && echo second > b.txt && sync\n\
         if /usr/bin/exchange a.txt b.txt; then sync; echo \"GENPACK-IMAGE: exchanged $(cat a.txt)\"; \
         else echo \"GENPACK-IMAGE: failed\"; fi",
        &[&program],
    );
    let disk = dir.path().join("disk.img");
    install_to_disk_image(&image, &disk, &InstallOptions::default()).unwrap();
    let (result, log) = boot_disk(&disk, dir.path());
    assert_eq!(
        result.as_deref(),
        Some("exchanged second"),
        "serial log:\n{log}"
    );
    // The guest synced before printing the marker: the exchange is on the disk.
    let partition = BootPartition::open(&disk).unwrap();
    let a = partition.read("a.txt").unwrap();
    let b = partition.read("b.txt").unwrap();
    partition.close().unwrap();
    assert_eq!(a.as_deref(), Some(&b"second\n"[..]));
    assert_eq!(b.as_deref(), Some(&b"first\n"[..]));
}
