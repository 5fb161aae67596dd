//! `genpack ini` on a disk image: values read as genpack-init reads them at boot, and a way
//! out for a system.ini that is not UTF-8.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn genpack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_genpack"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("the genpack binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A FAT32 file system over a whole image file (a superfloppy, as `genpack install
/// --superfloppy` makes) holding `system.ini` with `content`.
fn stick_with(dir: &Path, content: &[u8]) -> PathBuf {
    let disk = dir.join("stick.img");
    let made = Command::new("mkfs.vfat")
        .args(["-F", "32", "-C"])
        .arg(&disk)
        .arg("65536")
        .output()
        .expect("mkfs.vfat (dosfstools) is installed");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let ini = dir.join("system.ini");
    fs::write(&ini, content).unwrap();
    let copied = Command::new("mcopy")
        .arg("-i")
        .arg(&disk)
        .arg(&ini)
        .arg("::/system.ini")
        .output()
        .expect("mcopy (mtools) is installed");
    assert!(copied.status.success(), "{}", text(&copied.stderr));
    disk
}

fn system_ini_on(dir: &Path, disk: &Path) -> Vec<u8> {
    let out = dir.join("read-back.ini");
    let _ = fs::remove_file(&out);
    let copied = Command::new("mcopy")
        .arg("-i")
        .arg(disk)
        .arg("::/system.ini")
        .arg(&out)
        .output()
        .unwrap();
    assert!(copied.status.success(), "{}", text(&copied.stderr));
    fs::read(out).unwrap()
}

#[test]
fn a_value_genpack_init_cannot_read_is_refused_by_get_too() {
    let dir = tempfile::tempdir().unwrap();
    let disk = stick_with(dir.path(), b"hostname = shop\ndiscount = 50%off\n");
    let disk_arg = disk.to_string_lossy().into_owned();
    let ok = genpack(&["ini", "get", &disk_arg, "hostname"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(text(&ok.stdout), "shop\n");

    let bad = genpack(&["ini", "get", &disk_arg, "discount"]);
    assert!(!bad.status.success());
    let message = text(&bad.stderr);
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("%%"), "{message}");
    assert!(message.contains("genpack ini set"), "{message}");

    // Set through genpack, the same text is stored so that the boot reads `50%off`.
    let set = genpack(&["ini", "set", &disk_arg, "discount", "50%off"]);
    assert!(set.status.success(), "{}", text(&set.stderr));
    let again = genpack(&["ini", "get", &disk_arg, "discount"]);
    assert_eq!(text(&again.stdout), "50%off\n");
    assert!(text(&system_ini_on(dir.path(), &disk)).contains("discount = 50%%off"));
}

#[test]
fn a_latin1_system_ini_is_located_and_converted_on_request() {
    let dir = tempfile::tempdir().unwrap();
    // "café" in Latin-1: é is the single byte 0xe9.
    let disk = stick_with(dir.path(), b"hostname = caf\xe9\n");
    let disk_arg = disk.to_string_lossy().into_owned();
    let get = genpack(&["ini", "get", &disk_arg]);
    assert!(!get.status.success());
    let message = text(&get.stderr);
    assert!(message.contains("offset 14"), "{message}");
    assert!(message.contains("Latin-1"), "{message}");

    // Without a terminal, edit says how to convert and changes nothing.
    let unattended = genpack(&["ini", "edit", &disk_arg]);
    assert!(!unattended.status.success());
    assert!(
        text(&unattended.stderr).contains("on a terminal"),
        "{}",
        text(&unattended.stderr)
    );
    assert_eq!(system_ini_on(dir.path(), &disk), b"hostname = caf\xe9\n");

    // On a terminal (script gives it one), answering yes opens the text as Latin-1; the
    // editor here adds a line, and the file is written back as UTF-8.
    let editor = dir.path().join("editor.sh");
    fs::write(
        &editor,
        "#!/bin/sh\nprintf 'timezone = Europe/Paris\\n' >> \"$1\"\n",
    )
    .unwrap();
    fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let command = format!("{} ini edit {}", env!("CARGO_BIN_EXE_genpack"), disk_arg);
    let mut session = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("VISUAL", &editor)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) is installed");
    // The answer goes to the terminal the question is asked on.
    std::io::Write::write_all(&mut session.stdin.take().unwrap(), b"y\n").unwrap();
    let converted = session.wait_with_output().unwrap();
    assert!(converted.status.success(), "{}", text(&converted.stdout));
    let written = String::from_utf8(system_ini_on(dir.path(), &disk)).expect("UTF-8 now");
    assert_eq!(written, "hostname = café\ntimezone = Europe/Paris\n");
}

#[test]
fn a_full_boot_partition_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    // A small FAT (1 MiB), nearly filled by a file the user put there.
    let disk = dir.path().join("small.img");
    let made = Command::new("mkfs.vfat")
        .arg("-C")
        .arg(&disk)
        .arg("1024")
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let ini = dir.path().join("system.ini");
    fs::write(&ini, "hostname = full\n").unwrap();
    let filler = dir.path().join("photos.bin");
    let copy = |file: &Path, name: &str| {
        Command::new("mcopy")
            .arg("-i")
            .arg(&disk)
            .arg(file)
            .arg(format!("::/{name}"))
            .output()
            .unwrap()
    };
    assert!(copy(&ini, "system.ini").status.success());
    // Fill all but 8 KiB.
    let listing = Command::new("mdir")
        .arg("-i")
        .arg(&disk)
        .arg("::")
        .output()
        .unwrap();
    let free_line = text(&listing.stdout);
    let free_bytes: u64 = free_line
        .lines()
        .find_map(|l| {
            l.split("bytes free")
                .next()
                .filter(|_| l.contains("bytes free"))
        })
        .map(|n| n.replace([' ', ','], ""))
        .and_then(|n| n.trim().parse().ok())
        .expect("mdir prints the free bytes");
    fs::write(&filler, vec![7u8; (free_bytes - 8192) as usize]).unwrap();
    assert!(copy(&filler, "photos.bin").status.success());
    let before = Command::new("mdir")
        .args(["-a", "-i"])
        .arg(&disk)
        .arg("::")
        .output()
        .unwrap();

    let disk_arg = disk.to_string_lossy().into_owned();
    let long_value = "x".repeat(16384);
    let set = genpack(&["ini", "set", &disk_arg, "motd", &long_value]);
    assert!(!set.status.success());
    let message = text(&set.stderr);
    assert!(message.contains("is full"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");

    // The same files, no temporary file or stray entry, a clean file system, and the next
    // edit that fits works.
    let after = Command::new("mdir")
        .args(["-a", "-i"])
        .arg(&disk)
        .arg("::")
        .output()
        .unwrap();
    assert_eq!(text(&after.stdout), text(&before.stdout));
    let fsck = Command::new("fsck.fat")
        .arg("-n")
        .arg(&disk)
        .output()
        .unwrap();
    assert!(fsck.status.success(), "{}", text(&fsck.stdout));
    assert!(
        !text(&fsck.stdout).contains("Warning"),
        "{}",
        text(&fsck.stdout)
    );
    let small = genpack(&["ini", "set", &disk_arg, "timezone", "UTC"]);
    assert!(small.status.success(), "{}", text(&small.stderr));
    let get = genpack(&["ini", "get", &disk_arg, "timezone"]);
    assert_eq!(text(&get.stdout), "UTC\n");
}

const KIOSK_HELP: &str = "The web page the kiosk shows full screen after it starts.";

/// A genpack image whose system.ini schema declares `kiosk_url` (as a drop-in module's key).
fn kiosk_image(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join(".genpack")).unwrap();
    fs::create_dir_all(tree.join("usr/share/genpack")).unwrap();
    fs::write(tree.join(".genpack/artifact"), "kiosk\n").unwrap();
    fs::write(tree.join(".genpack/timestamp"), "1700000000\n").unwrap();
    let mut schema = genpack_ini::Schema::builtin();
    schema.merge(genpack_ini::Schema {
        keys: vec![genpack_ini::KeySpec {
            section: "_default".into(),
            key: "kiosk_url".into(),
            title: "Kiosk page".into(),
            kind: genpack_ini::Kind::String,
            default: None,
            help: KIOSK_HELP.into(),
            module: "70kiosk".into(),
            applied_every_boot: true,
            group: "Kiosk".into(),
        }],
    });
    fs::write(
        tree.join("usr/share/genpack/system-ini.schema.json"),
        schema.to_json(),
    )
    .unwrap();
    let image = dir.join("kiosk.squashfs");
    let packed = Command::new("mksquashfs")
        .arg(&tree)
        .arg(&image)
        .args(["-noappend", "-quiet", "-no-progress"])
        .output()
        .expect("mksquashfs (squashfs-tools) is installed");
    assert!(packed.status.success(), "{}", text(&packed.stderr));
    image
}

#[test]
fn check_and_keys_know_the_keys_of_the_image_on_the_stick() {
    let dir = tempfile::tempdir().unwrap();
    let disk = stick_with(
        dir.path(),
        b"hostname = lobby\nkiosk_url = https://example.org/\n",
    );
    let disk_arg = disk.to_string_lossy().into_owned();

    // Without system.img on the stick: the built-in keys, and the note says why.
    let builtin = genpack(&["ini", "check", &disk_arg]);
    assert!(builtin.status.success(), "{}", text(&builtin.stderr));
    assert!(
        text(&builtin.stderr).contains("Built-in settings:"),
        "{}",
        text(&builtin.stderr)
    );
    assert!(text(&builtin.stderr).contains("has no system.img"));
    assert!(
        text(&builtin.stdout).contains("`kiosk_url` is not used by this image"),
        "{}",
        text(&builtin.stdout)
    );

    let image = kiosk_image(dir.path());
    let copied = Command::new("mcopy")
        .arg("-i")
        .arg(&disk)
        .arg(&image)
        .arg("::/system.img")
        .output()
        .unwrap();
    assert!(copied.status.success(), "{}", text(&copied.stderr));

    let check = genpack(&["ini", "check", &disk_arg]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    let (out, err) = (text(&check.stdout), text(&check.stderr));
    assert!(err.contains("Settings from system.img on"), "{err}");
    assert!(err.contains("built 2023-11-14"), "{err}");
    assert!(!out.contains("kiosk_url` is not used"), "{out}");
    assert!(out.contains("known keys: hostname, kiosk_url"), "{out}");

    let keys = genpack(&["ini", "keys", &disk_arg]);
    assert!(keys.status.success(), "{}", text(&keys.stderr));
    let listing = text(&keys.stdout);
    assert!(listing.contains("Kiosk:"), "{listing}");
    assert!(listing.contains("kiosk_url (Kiosk page)"), "{listing}");
    assert!(listing.contains(KIOSK_HELP), "{listing}");

    // A system.ini file checked against an image file named on the command line.
    let ini = dir.path().join("system.ini");
    fs::write(&ini, "kiosk_url = https://example.org/\n").unwrap();
    let ini_arg = ini.to_string_lossy().into_owned();
    let image_arg = image.to_string_lossy().into_owned();
    let file = genpack(&["ini", "check", &ini_arg, "--image", &image_arg]);
    assert!(file.status.success(), "{}", text(&file.stderr));
    assert!(text(&file.stdout).contains("known keys: kiosk_url"));
    assert!(text(&file.stderr).contains("Settings from the image"));
}

#[test]
fn a_project_s_system_ini_is_checked_against_the_image_the_project_builds() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("kiosk");
    fs::create_dir_all(&project).unwrap();
    fs::write(
        project.join("genpack.json5"),
        r#"{ name: "kiosk", base: "debian:bookworm" }"#,
    )
    .unwrap();
    let ini = project.join("system.ini");
    fs::write(&ini, "kiosk_url = https://example.org/\n").unwrap();
    let ini_arg = ini.to_string_lossy().into_owned();

    let before = genpack(&["ini", "check", &ini_arg, "--arch", "x86_64"]);
    assert!(before.status.success(), "{}", text(&before.stderr));
    let note = text(&before.stderr);
    assert!(
        note.contains("Built-in settings: kiosk-x86_64.squashfs is not built yet"),
        "{note}"
    );
    assert!(text(&before.stdout).contains("`kiosk_url` is not used by this image"));

    let image = kiosk_image(dir.path());
    fs::rename(&image, project.join("kiosk-x86_64.squashfs")).unwrap();
    let after = genpack(&["ini", "check", &ini_arg, "--arch", "x86_64"]);
    assert!(after.status.success(), "{}", text(&after.stderr));
    assert!(text(&after.stderr).contains("Settings from the image"));
    assert!(text(&after.stdout).contains("known keys: kiosk_url"));
}

#[test]
fn check_names_the_key_a_typo_was_meant_to_be() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("system.ini");
    fs::write(&ini, "hostnme = lobby\n").unwrap();
    let check = genpack(&["ini", "check", &ini.to_string_lossy()]);
    let out = text(&check.stdout);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(
        out.contains(":1: warning: `hostnme` is not used by this image; did you mean `hostname`?"),
        "{out}"
    );
}
