//! The overlay's package-scripts run for real inside a scratch root (busybox for the tools,
//! a recording stand-in for systemctl) under bubblewrap, and leave the files a booted image needs.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn overlay_scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../overlay/package-scripts")
}

fn write(root: &Path, path: &str, text: &str, mode: u32) {
    let full = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(&full, text).unwrap();
    fs::set_permissions(&full, fs::Permissions::from_mode(mode)).unwrap();
}

/// A root with busybox applets and a `systemctl` that appends its arguments to a log.
fn scratch_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "ls", "sort", "ln", "mkdir", "cat", "rm", "echo", "chmod", "tail", "test", "[",
    ] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    symlink("bin", root.join("sbin")).unwrap();
    fs::create_dir_all(root.join("usr")).unwrap();
    symlink("../bin", root.join("usr/bin")).unwrap();
    write(
        root,
        "/bin/systemctl",
        "#!/bin/sh\necho \"$*\" >>/systemctl.log\n",
        0o755,
    );
    for dir in ["etc", "tmp", "proc", "dev"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    dir
}

/// Runs one package-script inside the root; returns (success, stderr).
fn run(root: &Path, script: &str) -> (bool, String) {
    let source = overlay_scripts().join(script);
    write(
        root,
        "/script",
        &fs::read_to_string(&source).unwrap(),
        0o755,
    );
    let output = Command::new("bwrap")
        .arg("--bind")
        .arg(root)
        .arg("/")
        .args([
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--clearenv",
            "--setenv",
            "PATH",
            "/bin",
            "--setenv",
            "ARTIFACT",
            "demo",
        ])
        .args(["/bin/sh", "/script"])
        .output()
        .expect("bwrap runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn link_target(path: PathBuf) -> String {
    fs::read_link(path).unwrap().display().to_string()
}

#[test]
fn package_scripts_behave_in_a_scratch_root_needs_root() {
    let dir = scratch_root();
    let root = dir.path();

    // Kernel: newest release with an image wins; a stale modules directory is skipped.
    write(root, "/lib/modules/6.9.1-gentoo-dist/vmlinuz", "old", 0o644);
    write(
        root,
        "/lib/modules/6.10.2-gentoo-dist/vmlinuz",
        "new",
        0o644,
    );
    write(
        root,
        "/boot/initramfs-6.10.2-gentoo-dist.img",
        "initramfs",
        0o644,
    );
    fs::create_dir_all(root.join("lib/modules/6.11.0-gentoo-dist")).unwrap();
    let (ok, stderr) = run(root, "virtual/dist-kernel/50-boot-links");
    assert!(ok, "{stderr}");
    assert_eq!(
        link_target(root.join("boot/kernel")),
        "/lib/modules/6.10.2-gentoo-dist/vmlinuz"
    );
    assert_eq!(
        link_target(root.join("boot/initramfs")),
        "/boot/initramfs-6.10.2-gentoo-dist.img"
    );

    // Without an initramfs of its own the kernel is still linked; /boot/initramfs is left to
    // genpack's boot step.
    fs::remove_file(root.join("boot/initramfs-6.10.2-gentoo-dist.img")).unwrap();
    fs::remove_file(root.join("boot/initramfs")).unwrap();
    let (ok, stderr) = run(root, "virtual/dist-kernel/50-boot-links");
    assert!(ok, "{stderr}");
    assert_eq!(
        link_target(root.join("boot/kernel")),
        "/lib/modules/6.10.2-gentoo-dist/vmlinuz"
    );
    assert!(root.join("boot/initramfs").symlink_metadata().is_err());

    // systemd: network services enabled, resolv.conf on the stub, DNSSEC off.
    let (ok, stderr) = run(root, "sys-apps/systemd/50-network-services");
    assert!(ok, "{stderr}");
    assert_eq!(
        link_target(root.join("etc/resolv.conf")),
        "../run/systemd/resolve/stub-resolv.conf"
    );
    assert!(
        fs::read_to_string(root.join("etc/systemd/resolved.conf.d/genpack.conf"))
            .unwrap()
            .contains("DNSSEC=no")
    );

    // openssh: host keys from the build are removed, keys are generated at service start.
    write(root, "/etc/ssh/ssh_host_ed25519_key", "secret", 0o600);
    write(root, "/etc/ssh/ssh_host_ed25519_key.pub", "public", 0o644);
    write(root, "/etc/ssh/sshd_config", "Port 22\n", 0o644);
    let (ok, stderr) = run(root, "net-misc/openssh/50-sshd");
    assert!(ok, "{stderr}");
    assert!(!root.join("etc/ssh/ssh_host_ed25519_key").exists());
    assert!(!root.join("etc/ssh/ssh_host_ed25519_key.pub").exists());
    assert!(root.join("etc/ssh/sshd_config").exists());
    let dropin =
        fs::read_to_string(root.join("etc/systemd/system/sshd.service.d/genpack-host-keys.conf"))
            .unwrap();
    assert!(
        dropin.contains("ExecStartPre=/usr/bin/ssh-keygen -A"),
        "{dropin}"
    );

    // systemimg: the host name defaults to the artifact name and is not overwritten.
    let (ok, stderr) = run(root, "genpack/systemimg/50-hostname");
    assert!(ok, "{stderr}");
    assert_eq!(
        fs::read_to_string(root.join("etc/hostname")).unwrap(),
        "demo\n"
    );
    write(root, "/etc/hostname", "kept\n", 0o644);
    assert!(run(root, "genpack/systemimg/50-hostname").0);
    assert_eq!(
        fs::read_to_string(root.join("etc/hostname")).unwrap(),
        "kept\n"
    );

    let log = fs::read_to_string(root.join("systemctl.log")).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "enable systemd-networkd.service systemd-resolved.service systemd-timesyncd.service",
            "enable sshd.service",
            "enable getty@tty1.service",
            "enable getty@tty1.service",
        ]
    );
}
