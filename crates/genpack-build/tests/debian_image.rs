//! End to end on the Debian base: the template is built with real mmdebstrap, nspawn and
//! mksquashfs, inspected with backhand, and its tree booted with QEMU (TCG) without packing.
//! The boots from a kernel and fw_cfg, a disk through OVMF or SeaBIOS and an ISO are run by
//! `make test-boots` (make test boots each of those paths elsewhere).
//!
//! These tests need root, network access to deb.debian.org and QEMU.

mod common;

use std::time::Duration;

use common::{boot_until, built, tail};
use genpack_image::{EntryKind, Image};

#[test]
fn debian_template_builds_with_everything_in_place_needs_root_network() {
    let built = built();
    let image = Image::open(&built.image).unwrap();

    let meta = image.metadata().unwrap();
    assert_eq!(meta.artifact, "debian-minimal");
    assert_eq!(meta.arch, "x86_64");
    assert_eq!(meta.profile, "paravirt");
    let ssh = meta
        .packages
        .iter()
        .find(|p| p.name == "openssh-server")
        .expect("openssh-server recorded");
    assert!(!ssh.version.is_empty());
    assert!(ssh.license.is_some(), "licence of openssh-server recorded");
    assert!(!meta.packages.iter().any(|p| p.name == "mmdebstrap"));

    let passwd = image.read_text("/etc/passwd").unwrap();
    assert!(
        passwd.lines().any(|l| l.starts_with("admin:x:1000:")),
        "{passwd}"
    );
    let group = image.read_text("/etc/group").unwrap();
    assert!(
        group
            .lines()
            .any(|l| l.starts_with("sudo:") && l.ends_with("admin")),
        "{group}"
    );

    for unit in [
        "multi-user.target.wants/ssh.service",
        "multi-user.target.wants/systemd-networkd.service",
    ] {
        let entry = image
            .entry(&format!("/etc/systemd/system/{unit}"))
            .unwrap_or_else(|| panic!("{unit} not enabled"));
        assert!(
            matches!(entry.kind, EntryKind::Symlink(_)),
            "{unit}: {:?}",
            entry.kind
        );
    }
    let masked = image
        .entry("/etc/systemd/system/apt-daily.timer")
        .expect("setup_commands ran");
    assert_eq!(masked.kind, EntryKind::Symlink("/dev/null".into()));

    let template_motd = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../templates/debian-minimal/files/etc/motd"),
    )
    .unwrap();
    assert_eq!(
        image.read("/etc/motd").unwrap(),
        template_motd,
        "files/ merged over /"
    );

    assert_eq!(
        image.read_text("/etc/build-d-marker").unwrap(),
        "built by build.d for debian-minimal\n"
    );
    let user_mark = image
        .entry("/home/admin/.build-d-user")
        .expect("build.d/admin ran");
    assert_eq!(user_mark.uid, 1000);
    assert_eq!(
        image.read_text("/home/admin/.build-d-user").unwrap(),
        "admin\n"
    );
    assert!(
        !image.exists("/build.d"),
        "build.d must not reach the image"
    );
    assert!(
        !image.exists("/mnt/host"),
        "container mount point left in the image"
    );
    let resolv = image
        .entry("/etc/resolv.conf")
        .expect("systemd-resolved's resolv.conf link");
    assert!(
        matches!(resolv.kind, EntryKind::Symlink(ref t) if t.ends_with("stub-resolv.conf")),
        "{:?}",
        resolv.kind
    );

    let entries = image.entries();
    for banned in ["/usr/share/doc/", "/usr/include/", "/var/lib/dpkg/"] {
        assert!(
            !entries.iter().any(|e| e.path.starts_with(banned)),
            "{banned} is in the image"
        );
    }
    assert!(
        !entries
            .iter()
            .any(|e| e.path.extension().is_some_and(|x| x == "a")),
        "static libraries in the image"
    );

    assert!(image.kernel().unwrap().len() > 1_000_000);
    let initramfs = image.initramfs().unwrap();
    assert!(initramfs.len() > 100_000);
    assert!(image.exists("/usr/bin/genpack-init"));
    let schema = image
        .system_ini_schema()
        .unwrap()
        .expect("system.ini schema shipped");
    assert!(schema.to_string().contains("hostname"));
    assert_eq!(
        image.read_text("/etc/hostname").unwrap().trim(),
        "debian-minimal"
    );

    // The second build found nothing to do in the lower.
    assert!(
        !built.second.lower.rebuilt,
        "second build rebuilt the lower: {:?}",
        built.second.lower.reasons
    );
    assert_eq!(
        built.second.lower.inputs_hash,
        built.first.lower.inputs_hash
    );
    assert!(
        built.second_lower_log.contains("base layer is up to date"),
        "{}",
        built.second_lower_log
    );
}

#[test]
fn a_build_with_nothing_changed_runs_nothing_needs_root_network() {
    let built = built();
    let second = &built.second;
    assert!(second.up_to_date, "second build did something: {second:#?}");
    assert!(
        second.upper.stages.iter().all(|s| s.rerun.is_none()),
        "{:?}",
        second.upper.stages
    );
    assert_eq!(second.upper.entries_copied, 0);
    assert!(second.upper.assembled.is_none());
    assert!(second.pack.up_to_date);
    assert_eq!(second.pack.output, built.first.pack.output);
    assert_eq!(second.upper.tree, built.first.upper.tree);
    // The report still describes the image.
    assert_eq!(
        second.upper.closure_packages,
        built.first.upper.closure_packages
    );
    assert!(second.upper.boot.initramfs);
    assert!(
        built.second_upper_log.contains("image tree is up to date"),
        "{}",
        built.second_upper_log
    );
}

#[test]
fn a_files_change_reruns_only_later_stages_copies_no_package_file_and_matches_a_full_rebuild_needs_root_network(
) {
    use genpack_build::{BuildOptions, Builder, Stage};
    use std::os::unix::fs::MetadataExt;

    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = common::clone_built_project(scratch.path());
    // The clone shares the fixture's lower (hard links): no other test may run a shell in it
    // until the full rebuild has read it.
    let _lower_unchanged = common::work_lock();
    let project = genpack_def::Project::load(&dir).unwrap();
    let builder = Builder::new(&project, BuildOptions::default()).unwrap();
    // Up to date in its new folder (a shell in the fixture's lower, run by another test
    // before the clone, makes the package stage rerun once).
    builder.build().unwrap();
    let work = builder.work_dir().clone();
    let sshd = work.stage_layer("packages").join("usr/sbin/sshd");
    let sshd_inode = std::fs::metadata(&sshd).unwrap().ino();

    let motd = dir.join("files/etc/motd");
    let mut text = std::fs::read_to_string(&motd).unwrap();
    text.push_str("changed by the incremental build test\n");
    std::fs::write(&motd, &text).unwrap();

    let report = builder.build().unwrap();
    let rerun: Vec<Stage> = report
        .upper
        .stages
        .iter()
        .filter(|s| s.rerun.is_some())
        .map(|s| s.stage)
        .collect();
    assert_eq!(rerun, Stage::ALL[Stage::Files.index()..].to_vec());
    assert_eq!(
        report.upper.stages[Stage::Files.index()].rerun.as_deref(),
        Some("files changed: etc/motd")
    );
    assert!(!report.lower.rebuilt);
    assert_eq!(report.upper.entries_copied, 0, "package files copied");
    assert_eq!(
        std::fs::metadata(&sshd).unwrap().ino(),
        sshd_inode,
        "the package layer was rewritten"
    );
    // The files layer holds what files/ brought and the directories above it, nothing else.
    let files_layer = work.stage_layer("files");
    for entry in walk(&files_layer) {
        let rel = entry.strip_prefix(&files_layer).unwrap();
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        if !meta.is_dir() {
            assert!(
                dir.join("files").join(rel).exists(),
                "{} in the files layer does not come from files/",
                rel.display()
            );
        }
    }
    let log = std::fs::read_to_string(work.logs().join("upper.log")).unwrap();
    assert!(
        log.contains("files reruns (files changed: etc/motd)"),
        "{log}"
    );
    let image = genpack_image::Image::open(&report.pack.output).unwrap();
    assert_eq!(image.read_text("/etc/motd").unwrap(), text);
    let incremental = std::fs::read(&report.pack.output).unwrap();

    // Every stage again from the package copy: the same bytes.
    let full = Builder::new(
        &project,
        BuildOptions {
            rerun_from: Some(Stage::Packages),
            ..Default::default()
        },
    )
    .unwrap()
    .build()
    .unwrap();
    assert!(full.upper.entries_copied > 1000);
    assert!(
        std::fs::read(&full.pack.output).unwrap() == incremental,
        "an incremental build and a full rebuild of the same inputs differ"
    );
}

/// Every path below `root`.
fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

#[test]
#[ignore = "slow: the genpack vm run test boots this image the same way; make test-boots"]
fn debian_image_boots_with_direct_kernel_and_fw_cfg_ini_needs_root_network_qemu() {
    let built = built();
    let image = Image::open(&built.image).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("kernel");
    let initramfs = dir.path().join("initramfs");
    std::fs::write(&kernel, image.kernel().unwrap()).unwrap();
    std::fs::write(&initramfs, image.initramfs().unwrap()).unwrap();
    let ini = dir.path().join("system.ini");
    std::fs::write(&ini, "hostname = directboot\n").unwrap();
    let args: Vec<String> = vec![
        "-kernel".into(),
        kernel.display().to_string(),
        "-initrd".into(),
        initramfs.display().to_string(),
        "-append".into(),
        "console=ttyS0,115200 root=block: panic=-1".into(),
        "-drive".into(),
        format!(
            "file={},format=raw,if=virtio,readonly=on",
            built.image.display()
        ),
        "-fw_cfg".into(),
        format!("name=opt/genpack/system.ini,file={}", ini.display()),
    ];
    let outcome = boot_until(&args, "directboot login:", Duration::from_secs(600));
    assert!(
        outcome.found,
        "no login prompt after {:?}:\n{}",
        outcome.elapsed,
        tail(&outcome.console, 40)
    );
    eprintln!(
        "direct boot to login prompt: {:.1} s",
        outcome.elapsed.as_secs_f64()
    );
}

#[test]
fn the_image_tree_boots_without_packing_needs_root_network_qemu() {
    use genpack_vm::{AccelPolicy, Boot, Display, Network, StopOptions, VmSpec};

    let built = built();
    let tree = built.project_dir.join("work/x86_64/upper");
    let dir = tempfile::tempdir().unwrap();
    let mut spec = VmSpec::new(
        format!("tree-preview-{}", std::process::id()),
        Boot::Tree { tree: tree.clone() },
    );
    spec.memory_mib = 1024;
    spec.display = Display::None;
    spec.network = Network::None;
    spec.accel = AccelPolicy::Tcg;
    spec.system_ini = Some(hostname_ini(dir.path(), "treeboot"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.block_on(genpack_vm::launch(&spec)).unwrap();
    let console_log = handle.state().console_log.clone();
    let name = handle.name().to_string();
    drop(handle);
    let started = std::time::Instant::now();
    let console = loop {
        let text = std::fs::read_to_string(&console_log).unwrap_or_default();
        if text.contains("treeboot login:") || started.elapsed() > Duration::from_secs(600) {
            break text;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    // The runtime folder goes away with the VM: keep its helpers' logs for a failure message.
    let runtime_dir = console_log.parent().unwrap().to_path_buf();
    let helper_logs = ["qemu.log", "virtiofsd.log"]
        .iter()
        .map(|log| {
            let text = std::fs::read_to_string(runtime_dir.join(log)).unwrap_or_default();
            format!("--- {log}\n{}", tail(&text, 10))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let stopped = runtime.block_on(genpack_vm::stop(
        &name,
        StopOptions {
            force: true,
            ..Default::default()
        },
    ));
    assert!(
        console.contains("treeboot login:"),
        "no login prompt:\n{}\n{helper_logs}",
        tail(&console, 40)
    );
    assert!(
        console.contains("image tree shared by the host"),
        "{}",
        tail(&console, 40)
    );
    stopped.unwrap();
    eprintln!(
        "image tree to login prompt: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A system.ini naming the machine `host`, in `dir`.
fn hostname_ini(dir: &std::path::Path, host: &str) -> std::path::PathBuf {
    let ini = dir.join("system.ini");
    std::fs::write(&ini, format!("hostname = {host}\n")).unwrap();
    ini
}

/// OVMF as pflash, with a fresh copy of its variables in `dir`.
fn ovmf_args(dir: &std::path::Path) -> Vec<String> {
    let vars = dir.join("OVMF_VARS.fd");
    std::fs::copy("/usr/share/OVMF/OVMF_VARS.fd", &vars).unwrap();
    vec![
        "-drive".into(),
        "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd".into(),
        "-drive".into(),
        format!("if=pflash,format=raw,file={}", vars.display()),
    ]
}

/// Boots with `args` until `<host> login:` (the hostname came from system.ini), checks that
/// the kernel got `root_arg`, and reports the time as `what`.
fn boot_to_login(args: &[String], host: &str, root_arg: &str, what: &str) {
    let outcome = boot_until(args, &format!("{host} login:"), Duration::from_secs(600));
    assert!(
        outcome.found,
        "no login prompt after {:?}:\n{}",
        outcome.elapsed,
        tail(&outcome.console, 40)
    );
    assert!(
        outcome.console.contains(root_arg),
        "{root_arg} missing:\n{}",
        tail(&outcome.console, 40)
    );
    eprintln!(
        "{what} to login prompt: {:.1} s",
        outcome.elapsed.as_secs_f64()
    );
}

#[test]
#[ignore = "slow: the clean shutdown test boots this image the same way; make test-boots"]
fn debian_disk_image_boots_through_ovmf_and_grub_needs_root_network_qemu() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    let options = genpack_install::InstallOptions {
        system_ini: Some(hostname_ini(dir.path(), "diskboot")),
        ..Default::default()
    };
    let report = genpack_install::install_to_disk_image(&built.image, &disk, &options).unwrap();
    assert_eq!(report.partition_offset % (1 << 20), 0);
    let mut args = ovmf_args(dir.path());
    args.extend([
        "-drive".into(),
        format!("file={},format=raw,if=virtio", disk.display()),
    ]);
    let root_arg = format!("root=systemimg:{}", report.volume_id);
    boot_to_login(&args, "diskboot", &root_arg, "OVMF + GRUB boot");
}

#[test]
#[ignore = "slow: boot_qemu boots this layout with the small image; make test-boots"]
fn debian_gpt_disk_with_data_partition_boots_through_seabios_needs_root_network_qemu() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    let options = genpack_install::InstallOptions {
        system_ini: Some(hostname_ini(dir.path(), "gptbios")),
        layout: genpack_install::Layout::Gpt,
        data_partition: true,
        ..Default::default()
    };
    let report = genpack_install::install_to_disk_image(&built.image, &disk, &options).unwrap();
    assert!(report.bios_boot);
    // SeaBIOS (QEMU's default firmware) from an IDE disk, as an older PC sees its disk.
    let args = vec![
        "-drive".into(),
        format!("file={},format=raw,if=ide", disk.display()),
    ];
    let root_arg = format!("root=systemimg:{}", report.volume_id);
    boot_to_login(&args, "gptbios", &root_arg, "SeaBIOS + GRUB from GPT");
}

#[test]
#[ignore = "slow: boot_qemu boots this ISO with the small image; make test-boots"]
fn debian_iso_boots_as_a_cd_through_ovmf_needs_root_network_qemu() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let iso = dir.path().join("image.iso");
    let options = genpack_install::IsoOptions {
        system_ini: Some(hostname_ini(dir.path(), "isoboot")),
        ..Default::default()
    };
    genpack_install::make_iso(&built.image, &iso, &options).unwrap();
    let mut args = ovmf_args(dir.path());
    args.extend([
        "-drive".into(),
        format!("file={},format=raw,if=ide,media=cdrom", iso.display()),
    ]);
    boot_to_login(
        &args,
        "isoboot",
        "root=systemimg:auto",
        "OVMF + GRUB from the ISO as a CD",
    );
}

#[test]
fn cancelled_lower_rebuild_keeps_the_previous_lower_needs_root_network() {
    use genpack_build::lower::{decide, LowerDecision, LowerInputs};
    use genpack_build::{BuildError, CancelToken, Progress, ProgressSink};
    use std::sync::Arc;

    let built = built();
    let _guard = common::work_lock();
    let project = genpack_def::Project::load(&built.project_dir).unwrap();
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    // Cancel once mmdebstrap has mounted into the new tree and is unpacking.
    let progress: ProgressSink = Arc::new(move |event| {
        if let Progress::Log { line, .. } = &event {
            if line.starts_with("I: extracting archives") || line.starts_with("Unpacking ") {
                trigger.cancel();
            }
        }
    });
    let options = genpack_build::BuildOptions {
        cancel,
        progress,
        force_lower: true,
        ..Default::default()
    };
    let builder = genpack_build::Builder::new(&project, options).unwrap();
    let work = builder.work_dir().clone();
    let stamp_before = std::fs::read(work.lower_stamp()).unwrap();

    let err = builder.lower().unwrap_err();
    assert!(matches!(err, BuildError::Cancelled { .. }), "{err}");

    assert_eq!(
        std::fs::read(work.lower_stamp()).unwrap(),
        stamp_before,
        "stamp changed"
    );
    assert!(
        !work.lower_staging().exists(),
        "half-built lower left behind"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&work.root().display().to_string()),
        "mounts left below the work folder"
    );
    let inputs = LowerInputs::collect(builder.provider(), builder.recipe()).unwrap();
    assert_eq!(
        decide(&work, &inputs, false),
        LowerDecision::UpToDate,
        "previous lower no longer usable"
    );
    assert!(
        work.lower().join("usr/sbin/sshd").exists(),
        "previous lower damaged"
    );
}

#[test]
fn shells_run_in_the_lower_with_nspawn_and_bubblewrap_needs_root_network() {
    use genpack_build::container::{Container, Runtime};

    let built = built();
    // The shells write into the fixture's lower, which clones of the project share.
    let _guard = common::work_lock();
    let project = genpack_def::Project::load(&built.project_dir).unwrap();
    let builder = genpack_build::Builder::new(&project, Default::default()).unwrap();
    // `genpack bash CMD`: runs in the lower, with the download cache bound for apt.
    let status = builder
        .bash(&[
            "grep -q bookworm /etc/os-release && test -d /var/cache/apt/archives && exit 7".into(),
        ])
        .unwrap();
    assert_eq!(status.code(), Some(7));

    // The bubblewrap fallback runs the same kind of command in the same tree.
    let lower = builder.work_dir().lower();
    let output = Container::new(Runtime::Bubblewrap, &lower)
        .env("ARTIFACT", "demo")
        .command(
            &["/bin/sh", "-c", "cat /etc/debian_version; echo $ARTIFACT"],
            false,
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("12."), "{stdout}");
    assert!(stdout.trim_end().ends_with("demo"), "{stdout}");
}
