//! The initramfs archive: contents checked with `cpio -t`, and a real boot in QEMU.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use genpack_init::initramfs::{build_initramfs, Compression, InitramfsSpec};

/// The newest kernel with modules on this machine: (version, vmlinuz).
fn host_kernel() -> (String, PathBuf) {
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

fn cpio_list(archive: &Path) -> Vec<String> {
    let out = Command::new("cpio")
        .args(["-it", "--quiet"])
        .stdin(fs::File::open(archive).unwrap())
        .output()
        .expect("cpio is needed (apt install cpio)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn initramfs_holds_init_and_modules_with_dependencies() {
    let (version, _) = host_kernel();
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("fake-init");
    fs::write(&init, b"#!/bin/sh\n").unwrap();
    let mut spec = InitramfsSpec::new(init, "/".into(), version.clone());
    spec.module_names.push("no_such_module_here".into());
    let out = dir.path().join("initramfs.cpio");
    let report = build_initramfs(&spec, &out, Compression::None).unwrap();

    let names = cpio_list(&out);
    assert!(names.iter().any(|n| n == "init"), "{names:?}");
    assert!(names.iter().any(|n| n == "dev/console"));
    let base = format!("lib/modules/{version}/kernel");
    for module in [
        "fs/squashfs/squashfs.ko",
        "fs/fat/vfat.ko",
        "fs/fat/fat.ko",
        "fs/overlayfs/overlay.ko",
        "fs/nls/nls_ascii.ko",
    ] {
        let path = format!("{base}/{module}");
        let present = names.iter().any(|n| n.starts_with(&path));
        assert!(present, "{path} missing from {names:?}");
    }
    let order = &report.modules;
    let pos = |m: &str| {
        order
            .iter()
            .position(|p| p.contains(m))
            .unwrap_or_else(|| panic!("{m} not in {order:?}"))
    };
    assert!(
        pos("/fat.ko") < pos("/vfat.ko"),
        "dependencies load first: {order:?}"
    );
    assert!(pos("/virtio_ring.ko") < pos("/virtio_blk.ko"));
    assert!(report
        .skipped
        .iter()
        .any(|(n, why)| n == "no_such_module_here" && why.contains("not available")));

    let gz = dir.path().join("initramfs.gz");
    build_initramfs(&spec, &gz, Compression::Gzip).unwrap();
    let zst = dir.path().join("initramfs.zst");
    build_initramfs(&spec, &zst, Compression::Zstd).unwrap();
    assert!(fs::metadata(&zst).unwrap().len() < fs::metadata(&out).unwrap().len());
}

/// Static builds of both programs, cached next to the test target directory.
fn static_binaries() -> genpack_init::BootBinaries {
    let cache = std::env::var_os(genpack_init::binaries::CACHE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot-binaries"));
    genpack_init::boot_binaries_in(&cache, genpack_init::Profile::Dev).unwrap()
}

fn make_root_tree(root: &Path, genpack_init: &Path) {
    for dir in [
        "bin", "sbin", "usr/bin", "etc", "proc", "sys", "dev", "run", "tmp", "var/log", "root",
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("busybox-static is needed (apt install busybox-static)");
    for applet in ["sh", "cat", "echo", "poweroff", "ls", "sleep", "grep", "wc"] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    fs::copy(genpack_init, root.join("usr/bin/genpack-init")).unwrap();
    let init = root.join("sbin/init");
    fs::write(
        &init,
        "#!/bin/sh\n\
         echo \"HOSTNAME-FROM-INI: $(cat /etc/hostname)\"\n\
         echo \"LOG-LINES: $(cat /var/log/genpack-init.log | wc -l)\" 2>/dev/null\n\
         grep initramfs /proc/mounts\n\
         echo GENPACK-TEST-MARKER\n\
         poweroff -f\n",
    )
    .unwrap();
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
}

/// Boots QEMU with the host kernel and returns (powered off by itself, serial log).
fn boot_qemu(
    dir: &Path,
    initrd: &Path,
    append: &str,
    drives: &[String],
    extra: &[String],
) -> (bool, String) {
    let (_, vmlinuz) = host_kernel();
    let serial = dir.join("serial.log");
    let mut command = Command::new("qemu-system-x86_64");
    command
        .args([
            "-machine",
            "q35",
            "-m",
            "512",
            "-display",
            "none",
            "-monitor",
            "none",
            "-no-reboot",
        ])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .arg("-kernel")
        .arg(&vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", append]);
    for drive in drives {
        command.arg("-drive").arg(drive);
    }
    let mut qemu = command
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("qemu-system-x86_64 is needed");
    // A generous wall-clock limit for slow software emulation; not a speed assertion.
    let deadline = Instant::now() + Duration::from_secs(900);
    let finished = loop {
        if qemu.try_wait().unwrap().is_some() {
            break true;
        }
        if Instant::now() > deadline {
            let _ = qemu.kill();
            let _ = qemu.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let log = fs::read_to_string(&serial).unwrap_or_default();
    // Shown with --nocapture; useful when the boot sequence changes.
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("genpack") || l.contains("TEST") || l.contains("initramfs"))
        .collect();
    eprintln!("{}", lines.join("\n"));
    (finished, log)
}

fn squashfs(tree: &Path, image: &Path) {
    let status = Command::new("mksquashfs")
        .arg(tree)
        .arg(image)
        .args(["-noappend", "-quiet", "-all-root"])
        .status()
        .expect("mksquashfs is needed (apt install squashfs-tools)");
    assert!(status.success());
}

fn initramfs_for(bins: &genpack_init::BootBinaries, out: &Path) {
    let (version, _) = host_kernel();
    let spec = InitramfsSpec::new(bins.initramfs_init.clone(), "/".into(), version);
    build_initramfs(&spec, out, Compression::Gzip).unwrap();
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn boots_in_qemu_and_applies_system_ini_from_fw_cfg_qemu_needs_root() {
    let bins = static_binaries();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_root_tree(&tree, &bins.genpack_init);
    let image = dir.path().join("img.squashfs");
    squashfs(&tree, &image);
    let initrd = dir.path().join("initrd.img");
    initramfs_for(&bins, &initrd);
    let ini = dir.path().join("system.ini");
    fs::write(&ini, "# set by the test\nhostname = qemu-ini-host\n").unwrap();

    let (finished, log) = boot_qemu(
        dir.path(),
        &initrd,
        "console=ttyS0 root=block: panic=-1 rd.timeout=60",
        &[format!(
            "file={},if=virtio,format=raw,readonly=on",
            image.display()
        )],
        &[
            "-fw_cfg".into(),
            format!("name=opt/genpack/system.ini,file={}", ini.display()),
        ],
    );
    assert!(
        finished,
        "QEMU did not power off in time; serial log:\n{log}"
    );
    assert!(
        log.contains("HOSTNAME-FROM-INI: qemu-ini-host"),
        "serial log:\n{log}"
    );
    assert!(log.contains("GENPACK-TEST-MARKER"), "serial log:\n{log}");
    assert!(
        log.contains("genpack-init INFO: 10hostname: write /etc/hostname"),
        "serial log:\n{log}"
    );
    assert!(
        log.contains("/run/initramfs/rw tmpfs"),
        "no data disk: tmpfs; serial log:\n{log}"
    );
}

#[test]
fn boots_from_a_fat_boot_disk_with_a_data_partition_qemu_needs_root() {
    let bins = static_binaries();
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_string_lossy().to_string();
    let tree = dir.path().join("tree");
    make_root_tree(&tree, &bins.genpack_init);
    squashfs(&tree, &dir.path().join("system.img"));
    let initrd = dir.path().join("initrd.img");
    initramfs_for(&bins, &initrd);

    // A FAT32 boot disk (volume id 1234-ABCD) with system.img, system.ini and an old marker.
    fs::write(dir.path().join("system.ini"), "hostname = stick-host\n").unwrap();
    fs::write(dir.path().join("system.cur"), "previous\n").unwrap();
    run(
        "mkfs.vfat",
        &[
            "-C",
            "-F",
            "32",
            "-i",
            "1234ABCD",
            "-n",
            "GENPACK",
            &d("boot.img"),
            "65536",
        ],
    );
    for file in ["system.img", "system.ini", "system.cur"] {
        run(
            "mcopy",
            &["-i", &d("boot.img"), &d(file), &format!("::/{file}")],
        );
    }
    // The data partition, found by its label.
    run(
        "mkfs.ext4",
        &["-q", "-L", "data-1234-ABCD", &d("data.img"), "64M"],
    );

    let (finished, log) = boot_qemu(
        dir.path(),
        &initrd,
        "console=ttyS0 root=systemimg:1234-ABCD panic=-1 rd.timeout=60",
        &[
            format!("file={},if=virtio,format=raw", d("boot.img")),
            format!("file={},if=virtio,format=raw", d("data.img")),
        ],
        &[],
    );
    assert!(
        finished,
        "QEMU did not power off in time; serial log:\n{log}"
    );
    assert!(
        log.contains("HOSTNAME-FROM-INI: stick-host"),
        "serial log:\n{log}"
    );
    assert!(log.contains("GENPACK-TEST-MARKER"), "serial log:\n{log}");
    for mount in [
        "/run/initramfs/boot vfat rw",
        "/run/initramfs/ro squashfs ro",
        "/run/initramfs/rw ext4 rw",
    ] {
        assert!(
            log.contains(mount),
            "{mount} not mounted; serial log:\n{log}"
        );
    }
    let listing = run("mdir", &["-b", "-i", &d("boot.img"), "::/"]);
    assert!(listing.contains("boottime.txt"), "{listing}");
    assert!(
        listing.contains("system.old") && !listing.contains("system.cur"),
        "{listing}"
    );
    let persisted = run("debugfs", &["-R", "cat /root/etc/hostname", &d("data.img")]);
    assert_eq!(
        persisted.trim(),
        "stick-host",
        "the change is kept on the data partition"
    );
}
