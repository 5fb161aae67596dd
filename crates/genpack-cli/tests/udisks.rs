//! As an ordinary user: `genpack install --disk /dev/loopN` and `genpack ini` on the stick,
//! through UDisks2 and polkit. The system D-Bus, polkitd and udisksd are the real daemons,
//! started by the test (genpack-testbed); a loop device over a file stands in for the stick.
//! Needs root to set that up; the commands themselves run as a user created for the test.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use genpack_testbed::{rule_allowing, Daemons, Services, User, OPEN_DEVICE_SYSTEM};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the command printed: the report of each drive (stdout) and errors (stderr).
fn said(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `genpack ARGS` as `user`, talking to the test's system bus.
fn genpack_as(user: &User, services: &Services, args: &[&str]) -> Output {
    user.command(env!("CARGO_BIN_EXE_genpack"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("DBUS_SYSTEM_BUS_ADDRESS", services.address())
        .stdin(Stdio::null())
        .output()
        .expect("the genpack binary runs")
}

/// A small genpack image: kernel and initramfs placeholders and the metadata the installer
/// reads.
fn genpack_image(dir: &Path) -> String {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("boot")).unwrap();
    fs::create_dir_all(tree.join(".genpack")).unwrap();
    fs::write(tree.join("boot/kernel"), "kernel placeholder\n").unwrap();
    fs::write(tree.join("boot/initramfs"), "initramfs placeholder\n").unwrap();
    fs::write(tree.join(".genpack/artifact"), "userstick\n").unwrap();
    fs::write(tree.join(".genpack/arch"), "x86_64\n").unwrap();
    let image = dir.join("userstick-x86_64.squashfs");
    ok(
        "mksquashfs",
        &[
            tree.to_str().unwrap(),
            image.to_str().unwrap(),
            "-noappend",
            "-quiet",
            "-no-progress",
        ],
    );
    image.to_string_lossy().into_owned()
}

fn sha256(path: &Path) -> String {
    ok("sha256sum", &[path.to_str().unwrap()])
}

/// A loop device over `file`, detached on drop.
struct LoopDevice(String);

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

/// `mtools_program` (mdir, mtype) on `path` of the stick file's boot partition, as root.
fn on_boot_partition(stick: &Path, mtools_program: &str, path: &str) -> String {
    let dump = ok("sfdisk", &["--dump", stick.to_str().unwrap()]);
    let start: u64 = dump
        .lines()
        .find_map(|line| line.split("start=").nth(1))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no partition on the stick: {dump}"));
    ok(
        mtools_program,
        &["-i", &format!("{}@@{}", stick.display(), start * 512), path],
    )
}

#[test]
fn a_user_writes_a_stick_and_edits_its_system_ini_through_udisks_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let image = genpack_image(dir.path());
    let stick = dir.path().join("stick.img");
    let file = fs::File::create(&stick).unwrap();
    file.set_len(1 << 30).unwrap();
    drop(file);
    let device = LoopDevice(
        ok("losetup", &["--find", "--show", stick.to_str().unwrap()])
            .trim()
            .to_string(),
    );
    let loop_dev = device.0.as_str();
    // udisksd starts after the loop device exists: no udevd tells it about new ones here.
    let mut services = Services::start(Daemons::default()).unwrap();
    let user = User::create("gpcli").unwrap();
    let untouched = sha256(&stick);
    let install = ["install", &image, "--disk", loop_dev, "--yes"];

    // No rule lets this user open the device: polkit says no, the message names the action
    // and what to do, and the stick is as it was.
    let out = genpack_as(&user, &services, &install);
    let error = said(&out);
    assert!(!out.status.success(), "{error}");
    assert!(error.contains(loop_dev), "{error}");
    assert!(error.contains(OPEN_DEVICE_SYSTEM), "{error}");
    assert!(error.contains("polkit rule"), "{error}");
    assert!(error.contains("nothing was written"), "{error}");
    assert_eq!(
        sha256(&stick),
        untouched,
        "the stick changed although refused"
    );

    // UDisks2 not running: the message says what to install and start.
    services.stop_udisks();
    let out = genpack_as(&user, &services, &install);
    let error = said(&out);
    assert!(!out.status.success(), "{error}");
    assert!(error.contains("UDisks2"), "{error}");
    assert!(
        error.contains("install the udisks2 package") && error.contains("systemctl start udisks2"),
        "{error}"
    );
    assert_eq!(sha256(&stick), untouched);
    services.restart_udisks().unwrap();

    // With a rule for this user and this device only, the write goes through and is verified.
    services
        .allow(
            "50-stick",
            &rule_allowing(&user.name, OPEN_DEVICE_SYSTEM, loop_dev),
        )
        .unwrap();
    let out = genpack_as(&user, &services, &install);
    assert!(
        out.status.success(),
        "{}{}\nudisksd: {}",
        text(&out.stdout),
        text(&out.stderr),
        services.log("udisksd")
    );
    let table = ok("sfdisk", &["--dump", stick.to_str().unwrap()]);
    assert!(table.contains("label: dos"), "{table}");
    let files = on_boot_partition(&stick, "mdir", "::/");
    assert!(files.to_lowercase().contains("system   img"), "{files}");

    // system.ini on the stick, set and read back by the user through UDisks2.
    let out = genpack_as(
        &user,
        &services,
        &["ini", "set", loop_dev, "hostname", "from-a-user"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = genpack_as(&user, &services, &["ini", "get", loop_dev, "hostname"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from-a-user\n");
    // What the stick holds, read without UDisks2 or genpack.
    let ini = on_boot_partition(&stick, "mtype", "::/system.ini");
    assert!(ini.contains("from-a-user"), "{ini}");

    // The rule gone, editing is refused the same way and changes nothing.
    services.revoke("50-stick").unwrap();
    let before = sha256(&stick);
    let out = genpack_as(
        &user,
        &services,
        &["ini", "set", loop_dev, "hostname", "refused"],
    );
    let error = said(&out);
    assert!(!out.status.success(), "{error}");
    assert!(error.contains(OPEN_DEVICE_SYSTEM), "{error}");
    assert_eq!(sha256(&stick), before);
    let out = genpack_as(&user, &services, &["ini", "get", loop_dev, "hostname"]);
    assert!(!out.status.success());
    assert!(said(&out).contains(OPEN_DEVICE_SYSTEM), "{}", said(&out));
}
